"""The seed's documented curl commands (seed 000: vrouter-instance service templates
and a service instance), run with the real `curl` exactly as a user would."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

import pytest
import requests

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")]

# Verbatim from the seed (note the trailing comma before `}}}` in the templates).
SEED_URL = "http://localhost:8082"
DOCKER_TEMPLATE = r"""curl -X POST -H "Content-Type: application/json; charset=UTF-8" -d '{"service-template": {"parent_type": "project", "fq_name": ["default-domain", "admin", "docker-template"], "service_template_properties": {"service_mode": "transparent", "image_name": "docker-vm-name", "service_type": "firewall", "flavor": null, "service_scaling": false, "instance_data": "{\"command\":\"/bin/bash\"}", "availability_zone_enable": false, "service_virtualization_type": "vrouter-instance", "vrouter_instance_type": "docker", "ordered_interfaces": true, "interface_type": [{"static_route_enable": false,"shared_ip": false,"service_interface_type": "management"}, {"static_route_enable": false, "shared_ip": false, "service_interface_type": "left"}, {"static_route_enable": false, "shared_ip": false, "service_interface_type": "right"}],}}}' http://localhost:8082/service-templates"""
LIBVIRT_TEMPLATE = r"""curl -X POST -H "Content-Type: application/json; charset=UTF-8" -d '{"service-template": {"parent_type": "project", "fq_name": ["default-domain", "admin", "libvirt-template"], "service_template_properties": {"service_mode": "transparent", "image_name": "anything", "service_type": "firewall", "flavor": null, "service_scaling": false, "instance_data": "<xml>Here goes configuration for libvirt, skipping here to make curl shorter</xml>", "availability_zone_enable": false, "service_virtualization_type": "vrouter-instance", "vrouter_instance_type": "libvirt-qemu", "ordered_interfaces": true, "interface_type": [{"static_route_enable": false,"shared_ip": false,"service_interface_type": "management"}, {"static_route_enable": false, "shared_ip": false, "service_interface_type": "left"}, {"static_route_enable": false, "shared_ip": false, "service_interface_type": "right"}],}}}' http://localhost:8082/service-templates"""
SERVICE_INSTANCE = r"""curl -X POST -H "Content-Type: application/json; charset=UTF-8" -d '{"service-instance": {"parent_type": "project", "fq_name": ["default-domain", "admin", "libvirt-instance"], "service_template_refs": [{"to": ["default-domain", "libvirt-template"], "href": "http://localhost:9100/service-template/69ba0ed9-a595-4f16-aeb0-68f305f50553", "attr": null, "uuid": "69ba0ed9-a595-4f16-aeb0-68f305f50553"}], "service_instance_properties": {"right_virtual_network": "", "left_ip_address": null, "availability_zone": null, "management_virtual_network": "", "auto_policy": false, "ha_mode": null, "virtual_router_id": "35d86cdb-2ca7-47d3-b136-32000aa05785", "interface_list": [{"virtual_network": "", "ip_address": null, "static_routes": null}, {"virtual_network": "", "ip_address": null, "static_routes": null}, {"virtual_network": "", "ip_address": null, "static_routes": null}], "right_ip_address": null, "left_virtual_network": "", "scale_out": {"auto_scale": false, "max_instances": 1}}}}' http://localhost:8082/service-instances"""
SEED_TEMPLATE_UUID = "69ba0ed9-a595-4f16-aeb0-68f305f50553"
ADMIN = ["default-domain", "admin"]
ADMIN_PROJECT = ('curl -X POST -H "Content-Type: application/json; charset=UTF-8" '
                 '-d \'{"project": {"parent_type": "domain", "fq_name": ["default-domain", "admin"]}}\' '
                 f'{SEED_URL}/projects')


def curl(command: str, url: str) -> tuple[int, str]:
    """Run a seed curl command against `url` instead of localhost:8082."""
    argv = shlex.split(command.replace(SEED_URL, url))
    assert argv[0] == "curl"
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *argv[1:]],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


def read(url: str, type_: str, uuid: str) -> dict:
    r = requests.get(f"{url}/{type_}/{uuid}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()[type_]


def test_seed_service_templates_and_instance(api_server):
    url, made = api_server, []
    try:
        r = requests.post(f"{url}/fqname-to-id", json={"type": "project", "fq_name": ADMIN},
                          timeout=10)
        if r.status_code == 404:
            status, body = curl(ADMIN_PROJECT, url)
            assert status == 200, body
            made.append(("project", json.loads(body)["project"]["uuid"]))

        templates = {}
        for command, name, kind in ((DOCKER_TEMPLATE, "docker-template", "docker"),
                                    (LIBVIRT_TEMPLATE, "libvirt-template", "libvirt-qemu")):
            assert ",}}}" in command            # the seed's trailing comma is sent as is
            status, body = curl(command, url)
            assert status == 200, body
            created = json.loads(body)["service-template"]
            made.append(("service-template", created["uuid"]))
            assert created["fq_name"] == ADMIN + [name]
            st = read(url, "service-template", created["uuid"])
            props = st["service_template_properties"]
            assert props["service_virtualization_type"] == "vrouter-instance"
            assert props["vrouter_instance_type"] == kind
            assert props["service_mode"] == "transparent" and props["ordered_interfaces"] is True
            assert [i["service_interface_type"] for i in props["interface_type"]] == \
                ["management", "left", "right"]
            assert st["parent_type"] == "project"
            templates[name] = st
        assert templates["docker-template"]["service_template_properties"]["instance_data"] == \
            '{"command":"/bin/bash"}'

        libvirt = templates["libvirt-template"]
        command = SERVICE_INSTANCE.replace(SEED_TEMPLATE_UUID, libvirt["uuid"]).replace(
            '"to": ["default-domain", "libvirt-template"]',
            '"to": ["default-domain", "admin", "libvirt-template"]')
        status, body = curl(command, url)
        assert status == 200, body
        created = json.loads(body)["service-instance"]
        made.append(("service-instance", created["uuid"]))
        si = read(url, "service-instance", created["uuid"])
        assert si["fq_name"] == ADMIN + ["libvirt-instance"]
        (ref,) = si["service_template_refs"]
        assert ref["uuid"] == libvirt["uuid"] and ref["to"] == libvirt["fq_name"]
        props = si["service_instance_properties"]
        assert props["virtual_router_id"] == "35d86cdb-2ca7-47d3-b136-32000aa05785"
        assert len(props["interface_list"]) == 3
        assert props["scale_out"] == {"auto_scale": False, "max_instances": 1}
        back = read(url, "service-template", libvirt["uuid"])["service_instance_back_refs"]
        assert [b["uuid"] for b in back] == [created["uuid"]]
    finally:
        for type_, uuid in reversed(made):
            requests.delete(f"{url}/{type_}/{uuid}", timeout=10)
