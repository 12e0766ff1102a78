"""The emulated IOS CLI driven through netmiko exactly as a user drives a router."""

from __future__ import annotations

import re

import paramiko
import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import ConfigInvalidException, NetmikoAuthenticationException

from tests.lab_fixture import LabHandle
from tests.netmiko_text import send_text

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("name", ["r1", "r3"])
def test_session_preparation_and_show(lab: LabHandle, name: str) -> None:
    h = lab.hosts[name]
    with ConnectHandler(**h.netmiko()) as c:
        assert c.find_prompt() == f"{name}#"
        assert c.base_prompt == name
        out = send_text(c, "sh ver")
        assert f"{name} uptime is" in out
        if h.device_type == "cisco_ios":
            assert out.startswith("Cisco IOS Software, ")
        else:
            assert out.startswith("Cisco IOS XE Software, Version ")
        run = send_text(c, "show running-config")
        assert run.startswith("Building configuration...")
        assert re.search(r"^Current configuration : \d+ bytes$", run, re.M)
        assert f"hostname {name}" in run
        assert run.rstrip().endswith("end")
        # no clear-text secrets in the configuration
        assert h.password not in run and h.secret not in run


def test_raw_echo_prompts_and_questions_without_newline(lab: LabHandle) -> None:
    """Bytes on the wire: exact echo, CRLF, and questions left open without a newline."""
    h = lab.hosts["r2"]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(h.address, h.port, h.username, h.password, look_for_keys=False, allow_agent=False)
    chan = client.invoke_shell(term="vt100", width=511, height=1000)
    chan.settimeout(10)

    def read_until(marker: bytes) -> bytes:
        buf = b""
        while not buf.endswith(marker):
            buf += chan.recv(65536)
        return buf

    try:
        assert read_until(b"r2#") == b"\r\nr2#"
        chan.send(b"terminal width 511\n")
        assert read_until(b"r2#") == b"terminal width 511\r\nr2#"
        chan.send(b"copy running-config flash:/q.txt\n")
        got = read_until(b"? ")
        assert got == b"copy running-config flash:/q.txt\r\nDestination filename [q.txt]? "
        chan.send(b"\n")
        got = read_until(b"r2#")
        assert re.search(rb"\d+ bytes copied in", got)
        chan.send(b"show cluck\n")
        shown = read_until(b"r2#").decode()
        lines = shown.split("\r\n")
        assert lines[0] == "show cluck"
        caret = lines[1]
        # the caret sits under the bad word, counting the prompt in front of the echoed command
        assert caret.index("^") == len("r2#") + len("show ")
        assert lines[2] == "% Invalid input detected at '^' marker."
    finally:
        client.close()


def test_errors_incomplete_ambiguous(lab: LabHandle) -> None:
    with ConnectHandler(**lab.hosts["r4"].netmiko()) as c:
        assert "% Incomplete command." in send_text(c, "show")
        assert '% Ambiguous command:  "d"' in send_text(c, "d")
        out = send_text(c, "frobnicate now")
        assert "% Invalid input detected at '^' marker." in out
        out = send_text(c, "show version | frob x")
        assert "% Invalid input detected" in out
        # the session survives the errors
        assert "r4 uptime is" in send_text(c, "show version")


def test_pipes(lab: LabHandle) -> None:
    with ConnectHandler(**lab.hosts["r3"].netmiko()) as c:
        inc = send_text(c, "show running-config | include ip scp server enable")
        assert inc.strip() == "ip scp server enable"
        exc = send_text(c, "show running-config | exclude interface|address")
        assert "interface" not in exc and "hostname r3" in exc
        sec = send_text(c, "show running-config | section line vty")
        assert sec.splitlines() == ["line vty 0 4", " login local", " transport input ssh"]
        beg = send_text(c, "show running-config | begin ^line")
        assert beg.splitlines()[0] == "line con 0"
        cnt = send_text(c, "show running-config | count ^interface")
        assert re.fullmatch(r"Number of lines which match regexp = \d+", cnt.strip())


def test_config_modes_submodes_and_errors(lab: LabHandle) -> None:
    with ConnectHandler(**lab.hosts["r5"].netmiko()) as c:
        out = c.send_config_set(
            [
                "crypto pki trustpoint CLITEST",
                " enrollment url http://127.0.0.1:80",
                " revocation-check none",
                "ip domain name cli.example.test",  # a global command leaves the sub-mode
                "interface Loopback7",
                " description lab test",
                " ip address 192.0.2.77 255.255.255.255",
                "do show clock",
                "exit",
                "ip http server",
                "ip http port 18080",
            ]
        )
        assert "r5(ca-trustpoint)#" in out
        assert "r5(config-if)#" in out
        assert "r5(ca-trustpoint)#ip domain name cli.example.test\nr5(config)#interface Loopback7" in out
        sec = send_text(c, "show running-config | section CLITEST")
        assert sec.splitlines() == [
            "crypto pki trustpoint CLITEST",
            " enrollment url http://127.0.0.1:80",
            " revocation-check none",
        ]
        run = send_text(c, "show running-config")
        assert "ip domain name cli.example.test" in run
        assert "interface Loopback7\n description lab test\n ip address 192.0.2.77 255.255.255.255" in run
        assert "ip http port 18080" in run and "\nip http server" in run and "no ip http server" not in run
        with pytest.raises(ConfigInvalidException):
            c.send_config_set(["hostname r5", "ntp frobnicate 1"], error_pattern=r"% Invalid input")
        c.send_config_set(["no interface Loopback7", "no ip http server", "no crypto pki trustpoint CLITEST"])
        run = send_text(c, "show running-config")
        assert "Loopback7" not in run and "CLITEST" not in run and "no ip http server" in run
        log = send_text(c, "show logging | include CONFIG_I")
        assert "%SYS-5-CONFIG_I: Configured from console by iospki on vty" in log


def test_interactive_question_with_expect_string(lab: LabHandle) -> None:
    with ConnectHandler(**lab.hosts["r1"].netmiko()) as c:
        out = send_text(c, "copy running-config flash:/backup.cfg", expect_string=r"Destination filename")
        assert "[backup.cfg]?" in out
        out = send_text(c, "\n", expect_string=r"#")
        assert "bytes copied" in out
        send_text(c, "copy running-config flash:/backup.cfg", expect_string=r"Destination filename")
        assert "bytes copied" in send_text(c, "other.cfg", expect_string=r"#")  # answered with another name
        listing = send_text(c, "dir flash:")
        assert "other.cfg" in listing
        assert "backup.cfg" in listing and re.search(r"\d+ bytes total \(\d+ bytes free\)", listing)
        md5 = send_text(c, "verify /md5 flash:/backup.cfg")
        assert re.search(r"verify /md5 \(flash:/backup.cfg\) = [0-9a-f]{32}", md5)
        assert "%Error opening flash:/nope.txt (No such file or directory)" in send_text(c,
            "dir flash:/nope.txt"
        )


def test_enable_password_and_privilege(make_lab_module) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab_module(hosts=[("u1", "isr_g2")], host_data={"u1": {"lab_privilege": 1}}, plugins="")
    h = lab.hosts["u1"]
    with ConnectHandler(**h.netmiko()) as c:
        # netmiko enables with the secret after landing in user mode
        c.exit_enable_mode()
        assert c.find_prompt() == "u1>"
        assert "% Invalid input detected" in send_text(c, "show running-config")
        c.enable()
        assert c.find_prompt() == "u1#"
        assert "hostname u1" in send_text(c, "show running-config")
    with ConnectHandler(**h.netmiko()) as c:
        c.exit_enable_mode()
        out = send_text(c, "enable", expect_string=r"Password: ")
        for _ in range(2):
            out = send_text(c, "wrong-secret", expect_string=r"Password: ", cmd_verify=False)
        out = send_text(c, "wrong-secret", expect_string=r"u1>", cmd_verify=False)
        assert "% Bad secrets" in out and "wrong-secret" not in out  # no echo of a typed secret
        assert c.find_prompt() == "u1>"
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**h.netmiko(password="wrong"))


def test_write_memory_and_reload_keep_startup(make_lab_module) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab_module(hosts=[("w1", "csr1k")], plugins="")
    h = lab.hosts["w1"]
    with ConnectHandler(**h.netmiko()) as c:
        c.send_config_set(["ip domain name saved.example.test"])
        assert "[OK]" in send_text(c, "write memory")
        c.send_config_set(["ip domain name unsaved.example.test"])
        send_text(c, "copy running-config flash:/keep.txt", expect_string=r"\?")
        send_text(c, "\n", expect_string=r"#")
        startup = send_text(c, "show startup-config")
        assert "saved.example.test" in startup and "unsaved" not in startup
        out = send_text(c, "reload", expect_string=r"Save\? \[yes/no\]: ")
        assert "System configuration has been modified" in out
        out = send_text(c, "no", expect_string=r"\[confirm\]")
        c.write_channel("\n")
    with ConnectHandler(**h.netmiko()) as c:
        run = send_text(c, "show running-config")
        assert "ip domain name saved.example.test" in run
        assert "unsaved" not in run
        assert "keep.txt" in send_text(c, "dir flash:")  # flash survives a reload
        assert "System returned to ROM by reload" in send_text(c, "show version")


def test_configure_question_http_status_clear_logging(lab: LabHandle) -> None:
    with ConnectHandler(**lab.hosts["ca1"].netmiko()) as c:
        out = send_text(c, "configure", expect_string=r"\[terminal\]\? ")
        assert out.rstrip().endswith("Configuring from terminal, memory, or network [terminal]?")
        out = send_text(c, "", expect_string=r"\(config\)#", cmd_verify=False)
        assert "Enter configuration commands" in out
        send_text(c, "ip http server", expect_string=r"\(config\)#")
        send_text(c, "end", expect_string=r"ca1#")
        status = send_text(c, "show ip http server status")
        assert "HTTP server status: Enabled" in status and "HTTP server port: 80" in status
        assert "CONFIG_I" in send_text(c, "show logging")
        send_text(c, "clear logging", expect_string=r"\[confirm\]")
        send_text(c, "", expect_string=r"ca1#", cmd_verify=False)
        assert "CONFIG_I" not in send_text(c, "show logging")
        c.send_config_set(["no ip http server"])


def test_context_help_question_mark(lab: LabHandle) -> None:
    """`?` answers at once (no Enter), then shows the prompt and the line again so typing goes on."""
    h = lab.hosts["r1"]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(h.address, h.port, h.username, h.password, look_for_keys=False, allow_agent=False)
    chan = client.invoke_shell(term="vt100", width=511, height=1000)
    chan.settimeout(10)

    def read_until(marker: bytes) -> str:
        buf = b""
        while not buf.endswith(marker):
            buf += chan.recv(65536)
        return buf.decode().replace("\r\n", "\n")

    try:
        read_until(b"r1#")
        chan.send(b"show cl?")  # the keywords that start with 'cl', on one line
        out = read_until(b"r1#show cl")
        assert out == "show cl?\nclock\n\nr1#show cl", out
        chan.send(b"ock ?")  # what may follow: keywords and <cr>, one per line
        out = read_until(b"r1#show clock ")
        assert out == "ock ?\n  detail\n  <cr>\n\nr1#show clock ", out
        chan.send(b"\r")  # the line typed around the help runs as one command
        assert re.search(r"\d\d:\d\d:\d\d\.\d{3} UTC", read_until(b"r1#"))
        chan.send(b"zzz?")
        assert "% Unrecognized command" in read_until(b"r1#zzz")
        chan.send(b"\x03conf t\r")  # Ctrl-C at the prompt drops the typed text
        read_until(b"r1(config)#")
        chan.send(b"ntp ?")
        assert "  server" in read_until(b"r1(config)#ntp ")
        chan.send(b"\x03do show ver?")
        assert "version" in read_until(b"r1(config)#do show ver")
        chan.send(b"\x03end\r")
        read_until(b"r1#")
    finally:
        client.close()


def test_more_paging_until_terminal_length_0(lab: LabHandle) -> None:
    """A session starts with terminal length 24: long output stops at ' --More-- ' (space: a screen, Enter: a
    line, any other key: stop); netmiko and NAPALM send `terminal length 0` first and never see it."""
    h = lab.hosts["r1"]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(h.address, h.port, h.username, h.password, look_for_keys=False, allow_agent=False)
    chan = client.invoke_shell(term="vt100", width=511, height=1000)
    chan.settimeout(10)
    erase = "\b" * 10 + " " * 10 + "\b" * 10

    def read_until(marker: str) -> str:
        buf = b""
        while not buf.decode(errors="replace").endswith(marker):
            buf += chan.recv(65536)
        return buf.decode().replace("\r\n", "\n")

    try:
        read_until("r1#")
        chan.send(b"show running-config\r")
        first = read_until(" --More-- ")
        assert first.startswith("show running-config\nBuilding configuration...")
        assert first.count("\n") == 1 + 23  # the echo, then 23 lines of output and the marker
        chan.send(b"q")
        read_until("r1#")
        chan.send(b"terminal length 10\r")
        read_until("r1#")
        chan.send(b"show running-config\r")
        assert read_until(" --More-- ").count("\n") == 1 + 9
        chan.send(b" ")  # the next screen
        second = read_until(" --More-- ")
        assert second.startswith(erase) and second.count("\n") == 9
        chan.send(b"\r")  # one more line
        third = read_until(" --More-- ")
        assert third.startswith(erase) and third.count("\n") == 1
        chan.send(b"q")  # stop: the prompt comes back, nothing else of the config
        rest = read_until("r1#")
        assert rest == erase + "r1#", repr(rest)  # the prompt where the marker was
        chan.send(b"terminal length 0\r")
        read_until("r1#")
        chan.send(b"show running-config\r")
        full = read_until("r1#")
        assert full.endswith("\nend\nr1#") and "--More--" not in full, repr(full[-300:])
        chan.send(b"terminal length 5\r")
        read_until("r1#")
        chan.send(b"show version | include uptime\r")  # short output is not paged
        assert "--More--" not in read_until("r1#")
    finally:
        client.close()
