"""nftables through libnftables (the library the ``nft`` tool is a front end of), in process.

Same language and same errors as ``nft -f``, without a process per call: a table reload
is the library's parse plus one netlink transaction. The context (and its netlink socket)
is created inside the namespace it programs; every call also runs inside it, so a
socket the library reopens stays there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno as _errno

from filament.datapath.linux.netns import Netns

NFT_CTX_DEFAULT = 0


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("nftables") or "libnftables.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise OSError(_errno.ENOENT, f"libnftables not found ({exc}): apt-get install nftables") from None
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    return lib


class NftError(OSError):
    pass


class Nftables:
    """One libnftables context bound to ``netns``; not thread safe (one datapath thread)."""

    def __init__(self, netns: Netns):
        self._lib = _load()
        self._netns = netns
        with netns.entered():
            self._ctx = self._lib.nft_ctx_new(NFT_CTX_DEFAULT)
        if not self._ctx:
            raise NftError(_errno.ENOMEM, "nft_ctx_new failed")
        self._lib.nft_ctx_buffer_output(self._ctx)
        self._lib.nft_ctx_buffer_error(self._ctx)

    def run(self, text: str) -> str:
        """Run nft commands (``nft -f`` syntax, one transaction); their output, or
        ``NftError`` with nft's message."""
        with self._netns.entered():
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
        out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(errors="replace")
        err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise NftError(_errno.EINVAL, f"nft: {err.strip() or 'failed'}")
        return out

    def close(self) -> None:
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None
