"""The sandbox's seccomp filter, as the raw classic-BPF program ``bwrap --seccomp FD`` loads.

Generated here in a few lines of Python (no libseccomp binding needed). It
answers EPERM to the system calls a notebook never needs and a hostile one
would use to freeze or leave its sandbox: ptrace and reading or writing
another process's memory, new namespaces (``unshare``, ``setns``, ``clone``
with namespace flags), mounts, kernel keyrings, BPF, perf events,
userfaultfd, module and kexec loading. ``clone3`` answers ENOSYS, so that
libc falls back to ``clone``, whose flags the filter can read. Calls made
through another ABI (32-bit ``int 0x80`` on x86_64, x32) are refused as a
whole. Everything else is allowed: the namespaces, the read-only binds and the
limits around the sandbox do the rest.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

# classic BPF opcodes
_LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35      # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45     # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06      # BPF_RET | BPF_K

_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000

# Every namespace flag of clone(2); CLONE_NEWUSER is the one that matters, the others need it here.
_CLONE_NS_FLAGS = 0x10000000 | 0x20000000 | 0x40000000 | 0x04000000 | 0x08000000 | 0x00020000 | 0x02000000 | 0x00000080

_DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns", "mount", "umount2", "pivot_root",
           "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "bpf",
           "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "kexec_load", "kexec_file_load",
           "init_module", "finit_module", "delete_module", "name_to_handle_at", "open_by_handle_at")

# (AUDIT_ARCH, system call numbers); from the kernel's unistd headers.
ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "unshare": 272, "setns": 308,
        "clone": 56, "clone3": 435, "mount": 165, "umount2": 166, "pivot_root": 155, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "bpf": 321, "perf_event_open": 298, "keyctl": 250, "add_key": 248, "request_key": 249,
        "userfaultfd": 323, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
        "delete_module": 176, "name_to_handle_at": 303, "open_by_handle_at": 304}),
    "aarch64": (0xC00000B7, {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "unshare": 97, "setns": 268,
        "clone": 220, "clone3": 435, "mount": 40, "umount2": 39, "pivot_root": 41, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "bpf": 280, "perf_event_open": 241, "keyctl": 219, "add_key": 217, "request_key": 218,
        "userfaultfd": 282, "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
        "delete_module": 106, "name_to_handle_at": 264, "open_by_handle_at": 265}),
}
_X32_BIT = 0x40000000


class UnsupportedArchitectureError(RuntimeError):
    pass


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes:
    """The filter for ``machine`` (default: this one), as ``struct sock_filter`` records."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise UnsupportedArchitectureError(f"no seccomp filter for {machine} (known: {', '.join(ARCHES)})")
    arch, nr = ARCHES[machine]
    eperm, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    # Layout: [arch check][x32 check][one jeq per denied call][clone][clone3] allow, eperm, enosys, clone-flags
    denied = [nr[name] for name in _DENIED]
    body: list[tuple[int, int, str | None, str | None]] = []   # (code, k, jump-if-true label, jump-if-false label)
    body.append((_LD_W_ABS, _ARCH, None, None))
    body.append((_JEQ_K, arch, None, "eperm"))
    body.append((_LD_W_ABS, _NR, None, None))
    if machine == "x86_64":
        body.append((_JGE_K, _X32_BIT, "eperm", None))
    for n in denied:
        body.append((_JEQ_K, n, "eperm", None))
    body.append((_JEQ_K, nr["clone3"], "enosys", None))
    body.append((_JEQ_K, nr["clone"], "clone", None))
    labels = {"allow": len(body), "eperm": len(body) + 1, "enosys": len(body) + 2, "clone": len(body) + 3}
    tail = [(_RET_K, _ALLOW), (_RET_K, eperm), (_RET_K, enosys)]
    out = []
    for i, (code, k, jt, jf) in enumerate(body):
        t = labels[jt] - i - 1 if jt else 0
        f = labels[jf] - i - 1 if jf else 0
        out.append(_insn(code, k, t, f))
    out += [_insn(code, k) for code, k in tail]
    # clone: look at the low word of the flags (all namespace flags live there)
    out.append(_insn(_LD_W_ABS, _ARG0_LOW))
    out.append(_insn(_JSET_K, _CLONE_NS_FLAGS, 0, 1))
    out.append(_insn(_RET_K, eperm))
    out.append(_insn(_RET_K, _ALLOW))
    if len(out) > 255:  # jump offsets are 8 bits
        raise AssertionError("seccomp program too long for 8-bit jumps")
    return b"".join(out)


def denied_calls() -> tuple[str, ...]:
    return _DENIED
