"""infrared's virsh provisioner: topology files → libvirt networks and VMs (see
docs/design/virsh.md)."""
