"""grader.seccomp: the filter's decisions, read by a small BPF interpreter for both architectures,
and the real thing under bubblewrap."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys

import pytest

from grader import seccomp
from grader.sandbox import bwrap_available

ALLOW, ERRNO = 0x7FFF0000, 0x00050000
CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x10000000, 0x40000000, 17


def run_filter(prog: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """Interpret a classic BPF seccomp program on one seccomp_data record."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack("=HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code in (0x15, 0x35, 0x45):
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
def test_denied_calls_get_eperm_and_the_rest_is_allowed(machine):
    prog = seccomp.program(machine)
    assert len(prog) % 8 == 0
    arch, nr = seccomp.ARCHES[machine]
    for name in seccomp.denied_calls():
        assert run_filter(prog, nr[name], arch) == ERRNO | errno.EPERM, name
    for harmless in (0, 1, 3, 60, 200):   # read/write/close-like numbers on either architecture
        if harmless not in {nr[n] for n in seccomp.denied_calls()} | {nr["clone"], nr["clone3"]}:
            assert run_filter(prog, harmless, arch) == ALLOW
    assert run_filter(prog, nr["clone3"], arch) == ERRNO | errno.ENOSYS   # libc falls back to clone
    assert run_filter(prog, nr["clone"], arch, SIGCHLD) == ALLOW                       # fork
    assert run_filter(prog, nr["clone"], arch, 0x3D0F00) == ALLOW                      # a thread
    assert run_filter(prog, nr["clone"], arch, CLONE_NEWUSER | SIGCHLD) == ERRNO | errno.EPERM
    assert run_filter(prog, nr["clone"], arch, CLONE_NEWNET) == ERRNO | errno.EPERM


def test_other_abis_are_refused():
    prog = seccomp.program("x86_64")
    arch, _ = seccomp.ARCHES["x86_64"]
    assert run_filter(prog, 0, 0x40000003) == ERRNO | errno.EPERM          # i386 through int 0x80
    assert run_filter(prog, 0x40000000 | 1, arch) == ERRNO | errno.EPERM   # x32


def test_unknown_architecture_is_an_error():
    with pytest.raises(seccomp.UnsupportedArchitectureError, match="riscv"):
        seccomp.program("riscv64")


PROBE = r'''
import ctypes, os, threading, subprocess
libc = ctypes.CDLL(None, use_errno=True)
def err(rc):
    return ctypes.get_errno() if rc == -1 else 0
print("ptrace", err(libc.ptrace(16, 1, 0, 0)))
print("unshare", err(libc.unshare(0x10000000)))
print("mount", err(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))
t = threading.Thread(target=print, args=("thread ok",)); t.start(); t.join()
print("child", subprocess.run(["true"]).returncode)
'''


@pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")
def test_the_filter_holds_under_bubblewrap_and_python_still_works():
    r, w = os.pipe()
    os.write(w, seccomp.program())
    os.close(w)
    cmd = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/",
           "--proc", "/proc", "--dev", "/dev", "--seccomp", str(r), sys.executable, "-c", PROBE]
    try:
        out = subprocess.run(cmd, pass_fds=(r,), capture_output=True, text=True, timeout=60)
    finally:
        os.close(r)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["ptrace"] == str(errno.EPERM) and lines["unshare"] == str(errno.EPERM)
    assert lines["mount"] == str(errno.EPERM)
    assert lines["thread"] == "ok" and lines["child"] == "0"
