"""Run inside a private network namespace by test_lab_pki_peers (`python -m tests.peers_inside`):
micromdm's scepserver binds every interface, so it never runs outside one. The lab (SSH routers)
starts in the same namespace; a router enrolls with scepserver as a third-party CA."""
import json
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from netmiko import ConnectHandler

from tests.lab_fixture import start_lab
from tests.netmiko_text import send_text

tmp = Path(tempfile.mkdtemp())
depot = tmp / "depot"
subprocess.run(["scepserver", "ca", "-init", "-depot", str(depot), "-keySize", "2048", "-organization",
                "Third Party CA", "-years", "2"], check=True, capture_output=True)
srv = subprocess.Popen(["scepserver", "-depot", str(depot), "-port", "18095", "-challenge", "tp-challenge-1",
                        "-allowrenew", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
result = {}
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", 18095), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    lab = start_lab(tmp / "lab", hosts=[("r1", "isr4k")])
    try:
        c = ConnectHandler(**lab.hosts["r1"].netmiko())
        c.enable()
        c.send_config_set(["ntp server 127.0.0.1", "crypto pki trustpoint EXT",
                           "enrollment url http://127.0.0.1:18095/scep", "password 0 tp-challenge-1",
                           "serial-number none", "ip-address none", "rsakeypair EXTKEY 2048"])
        c.config_mode()
        send_text(c, "crypto pki authenticate EXT", expect_string=r"\[yes/no\]: ", read_timeout=60)
        send_text(c, "yes", expect_string=r"\(config\)#", read_timeout=60)
        out = send_text(c, "crypto pki enroll EXT", expect_string=r"\[yes/no\]: ", read_timeout=60)
        out += send_text(c, "yes", expect_string=r"\(config\)#", read_timeout=120)
        c.exit_config_mode()
        result["enroll"] = out
        result["certs"] = send_text(c, "show crypto pki certificates EXT")
        result["log"] = send_text(c, "show logging")
        c.disconnect()
    finally:
        lab.stop()
    result["index"] = (depot / "index.txt").read_text() if (depot / "index.txt").exists() else ""
finally:
    srv.terminate()
    srv.wait(5)
print("RESULT " + json.dumps(result))
