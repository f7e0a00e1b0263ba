"""The runtime stage of deploy/container/Dockerfile, run without a Docker engine.

    python3 runtime_stage.py rootfs [DOCKERFILE]
        prints the root file system of the stage up to its COPY --from (cached)
    python3 runtime_stage.py run PREFIX [-e KEY=VALUE]... [ARG...]
        `docker run IMAGE ARG...`, with the builder's /opt/polaris taken from
        PREFIX (deploy/container/build-runtime-layout PREFIX); Ctrl-C stops it

What stands in for Docker (needs root: mmdebstrap, chroot, mount namespaces):
  FROM debian:12-slim   mmdebstrap --variant=minbase of bookworm from this
                        machine's Debian sources, as the official image is
                        made (that image also drops documentation, not done here)
  RUN                   the command, with the stage's SHELL, ENV and USER, in a
                        chroot with each --mount=type=bind bound read-only
  COPY --from=builder   PREFIX bound read-only at the destination
  the container         an overlay on the stage's root (the writable layer), a
                        private mount and PID namespace (ENTRYPOINT is PID 1),
                        USER, WORKDIR, ENV; this machine's network, so ports are
                        set with -e POLARIS_*_PORT rather than published
  HEALTHCHECK, exec     the command entered into the container's namespaces
Instructions other than those the stage uses are refused, so an emulation that
would silently differ from the image fails instead.

The root up to the COPY is cached in $POLARIS_CACHE/runtime-stage-<key>, the key
covering the instructions, the files they bind and the Debian sources; changing
runtime-packages.txt builds a new one (about 30 s) and removes the old.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "container" / "Dockerfile"
CACHE = pathlib.Path(os.environ.get("POLARIS_CACHE", pathlib.Path.home() / ".cache" / "polaris"))
# The images the emulation can stand in for: Debian suite of each.
BASES = {"debian:12-slim": "bookworm", "debian:bookworm-slim": "bookworm"}
# The PATH the official Debian images set.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Unsupported(Exception):
    """An instruction the emulation does not do as Docker would."""


# ---------------------------------------------------------------- the Dockerfile

def instructions(text):
    """[(INSTRUCTION, arguments)], continuation lines joined and comments dropped."""
    lines, current = [], ""
    for line in text.splitlines():
        if not current and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            op, _, args = current.strip().partition(" ")
            lines.append((op.upper(), args.strip()))
        current = ""
    return lines


def command_form(args, shell):
    """An exec-form (JSON) or shell-form command as argv."""
    if args.startswith("["):
        return json.loads(args)
    return [*shell, args]


class Stage:
    """The last stage of a Dockerfile, as the steps that build it and the configuration it ends with."""

    def __init__(self, dockerfile=DOCKERFILE, context=ROOT):
        self.dockerfile, self.context = pathlib.Path(dockerfile), pathlib.Path(context)
        ops = instructions(self.dockerfile.read_text())
        start = max(i for i, (op, _) in enumerate(ops) if op == "FROM")
        self.base = ops[start][1].split()[0]
        if self.base not in BASES:
            raise Unsupported(f"FROM {self.base}: only {sorted(BASES)} can be stood in for")
        self.shell, self.env, self.user, self.workdir = ["/bin/sh", "-c"], {}, "0", "/"
        self.expose, self.entrypoint, self.cmd, self.healthcheck = [], [], [], None
        self.steps = []  # ("run", argv, binds, env, user, workdir) or ("copy", source stage, src, dst)
        for op, args in ops[start + 1:]:
            if op == "SHELL":
                self.shell = json.loads(args)
            elif op == "RUN":
                binds = []
                while args.startswith("--"):
                    flag, _, args = args.partition(" ")
                    binds.append(self._bind(flag))
                    args = args.lstrip()
                self.steps.append(("run", command_form(args, self.shell), binds, dict(self.env), self.user,
                                   self.workdir))
            elif op == "COPY":
                words = args.split()
                if len(words) != 3 or not words[0].startswith("--from="):
                    raise Unsupported(f"COPY {args}: only COPY --from=STAGE SRC DST")
                self.steps.append(("copy", words[0][len("--from="):], words[1], words[2]))
            elif op == "ENV":
                self.env.update(self._env(args))
            elif op == "USER":
                self.user = args
            elif op == "WORKDIR":
                if not args.startswith("/"):
                    raise Unsupported(f"WORKDIR {args}: only absolute paths")
                self.workdir = args
            elif op == "EXPOSE":
                self.expose += args.split()
            elif op == "ENTRYPOINT":
                self.entrypoint = command_form(args, self.shell)
            elif op == "CMD":
                self.cmd = command_form(args, self.shell)
            elif op == "HEALTHCHECK":
                options, _, command = args.partition("CMD ")
                self.healthcheck = command_form(command.strip(), self.shell)
                self.healthcheck_options = dict(o.lstrip("-").split("=", 1) for o in options.split())
            else:
                raise Unsupported(f"{op} is not emulated")
        copies = [i for i, s in enumerate(self.steps) if s[0] == "copy"]
        if len(copies) != 1:
            raise Unsupported("the stage must have exactly one COPY --from")
        self.before_copy, self.copy, self.after_copy = (self.steps[:copies[0]], self.steps[copies[0]],
                                                        self.steps[copies[0] + 1:])

    def _bind(self, flag):
        if not flag.startswith("--mount="):
            raise Unsupported(f"RUN {flag}")
        fields = dict(f.split("=", 1) for f in flag[len("--mount="):].split(","))
        if fields.pop("type", None) != "bind" or set(fields) - {"source", "target"}:
            raise Unsupported(f"RUN {flag}: only --mount=type=bind,source=...,target=...")
        return self.context / fields["source"], fields["target"]

    @staticmethod
    def _env(args):
        words = shlex.split(args)
        if words and "=" not in words[0]:
            return {words[0]: args.split(None, 1)[1]}  # ENV KEY VALUE
        if any("$" in w for w in words):
            raise Unsupported(f"ENV {args}: variable substitution is not emulated")
        return dict(w.split("=", 1) for w in words)

    def cache_key(self):
        """What the root up to the COPY depends on: its instructions, the files they bind, the sources."""
        h = hashlib.sha256(self.base.encode())
        for _, argv, binds, env, user, workdir in self.before_copy:
            h.update(json.dumps([argv, [str(t) for _, t in binds], env, user, workdir]).encode())
            for source, _ in binds:
                h.update(source.read_bytes())
        h.update(debian_sources().read_bytes())
        return h.hexdigest()[:16]


# ---------------------------------------------------------------- namespaces and chroot

def debian_sources():
    """This machine's Debian sources (the official images' file), or $POLARIS_DEBIAN_SOURCES."""
    for path in (os.environ.get("POLARIS_DEBIAN_SOURCES"), "/etc/apt/sources.list.d/debian.sources",
                 "/etc/apt/sources.list"):
        if path and pathlib.Path(path).is_file():
            return pathlib.Path(path)
    raise FileNotFoundError("no Debian apt sources found (set POLARIS_DEBIAN_SOURCES)")


def passwd_entry(root, user):
    """(uid, gid, home) of USER [uid[:gid] or name] in the root's /etc/passwd; Docker's rules."""
    name, _, group = user.partition(":")
    entries = [line.split(":") for line in (root / "etc" / "passwd").read_text().splitlines() if line]
    entry = next((e for e in entries if name in (e[0], e[2])), None)
    if entry is None and not name.isdigit():
        raise KeyError(f"USER {user}: no such user in the image")
    uid = int(entry[2]) if entry else int(name)
    gid = int(group) if group.isdigit() else int(entry[3]) if entry else 0
    return uid, gid, entry[5] if entry else "/"


def namespace_script(root, binds=(), overlay=None, workdir="/"):
    """Shell lines that set up the container's mounts (run in a fresh mount namespace), ending
    with the root at $root: the overlay (lower, upper, work) when given, /proc, the files Docker
    provides (/etc/resolv.conf, /etc/hosts), and `binds` [(host path, path inside)] read-only."""
    q = shlex.quote
    lines = ["set -e", f"root={q(str(root))}"]
    if overlay:
        lower, upper, work = map(str, overlay)
        if any(c in s for s in (lower, upper, work) for c in ",:"):
            raise ValueError("overlay paths may not hold ',' or ':'")
        lines.append(f"mount -t overlay overlay -o lowerdir={q(lower)},upperdir={q(upper)},workdir={q(work)} "
                     '"$root"')
    lines.append('mount -t proc proc "$root/proc"')
    for host, inside in [("/etc/resolv.conf", "/etc/resolv.conf"), ("/etc/hosts", "/etc/hosts"), *binds]:
        target = '"$root"' + q(str(inside))
        if pathlib.Path(host).is_dir():
            lines.append(f"mkdir -p {target}")
        else:
            lines.append(f"mkdir -p \"$(dirname {target})\"; [ -e {target} ] || : > {target}")
        lines.append(f"mount --bind -o ro {q(str(host))} {target}")
    lines.append(f'mkdir -p "$root"{q(workdir)}')  # Docker makes a missing WORKDIR
    return lines


def in_root(root, argv, env, user="0", workdir="/", binds=(), overlay=None, passwd_root=None):
    """argv for `unshare`: `argv` run as PID 1 of new mount and PID namespaces, chrooted into `root`
    (or the overlay mounted there), as `user`, with exactly `env` (+ PATH and HOME as Docker sets)."""
    uid, gid, home = passwd_entry(pathlib.Path(passwd_root or root), user)
    full_env = {"PATH": DEFAULT_PATH, "HOME": home, **env}
    lines = namespace_script(root, binds, overlay, workdir)
    lines.append(f'exec chroot --userspec={uid}:{gid} "$root" /usr/bin/env -i '
                 + " ".join(shlex.quote(f"{k}={v}") for k, v in full_env.items())
                 + ' /bin/sh -c \'cd "$1" && shift && exec "$@"\' sh ' + shlex.quote(workdir) + ' "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
            "sh", "-c", "\n".join(lines), "sh", *argv]


def require_root():
    if os.geteuid() != 0:
        raise PermissionError("the runtime stage's emulation needs root (mmdebstrap, chroot, mount)")
    for tool in ("mmdebstrap", "unshare", "nsenter", "chroot"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(f"{tool} not found (mmdebstrap: deps/debian-packages.txt, scripts/bootstrap)")


# ---------------------------------------------------------------- the stage's root, up to the COPY

@contextlib.contextmanager
def locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def stage_root(stage, log=sys.stderr):
    """The cached root file system of `stage` up to its COPY: FROM, then every RUN before it."""
    require_root()
    dest = CACHE / f"runtime-stage-{stage.cache_key()}"
    if (dest / "complete").exists():
        return dest / "root"
    with locked(CACHE / ".runtime-stage.lock"):  # another run may be making the same root
        if (dest / "complete").exists():
            return dest / "root"
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=".runtime-stage.", dir=CACHE))
        try:
            root = tmp / "root"
            print(f"[runtime_stage] FROM {stage.base}: mmdebstrap minbase {BASES[stage.base]} -> {root}",
                  file=log, flush=True)
            subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "--mode=root", "--format=directory",
                            BASES[stage.base], str(root), str(debian_sources())],
                           check=True, stdout=log, stderr=log, timeout=1800)
            for _, argv, binds, env, user, workdir in stage.before_copy:
                print(f"[runtime_stage] RUN {shlex.join(argv)[:120]}", file=log, flush=True)
                # The mount points made for --mount binds are no part of the layer.
                made = [root / t.lstrip("/") for _, t in binds if not (root / t.lstrip("/")).exists()]
                subprocess.run(in_root(root, argv, env, user, workdir, binds), check=True, stdout=log,
                               stderr=log, timeout=1800)
                for path in made:
                    path.rmdir() if path.is_dir() else path.unlink()
            (tmp / "complete").write_text(stage.cache_key() + "\n")
            for old in CACHE.glob("runtime-stage-*"):  # an older list's root: 600 MB nobody uses
                shutil.rmtree(old)
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest / "root"


# ---------------------------------------------------------------- a container of the stage

class Container:
    """The stage's container: the RUN steps after its COPY (which a build runs) are run in the
    writable layer first, then ENTRYPOINT + `args` as PID 1. `copy_source`: the host folder that
    COPY --from takes; `workdir`: an empty host folder for the writable layer."""

    def __init__(self, stage, root, copy_source, workdir, args=(), env=None, log=None):
        self.stage, self.root = stage, pathlib.Path(root)
        self.upper, work, self.merged = (pathlib.Path(workdir) / d for d in ("upper", "work", "merged"))
        for d in (self.upper, work, self.merged):
            d.mkdir(parents=True)
        self.overlay = (self.root, self.upper, work)
        _, _, src, dst = stage.copy
        self.binds = [(pathlib.Path(copy_source), dst)]
        for _, argv, binds, step_env, user, step_workdir in stage.after_copy:
            subprocess.run(self._in_root(argv, step_env, user, step_workdir, binds), check=True,
                           stdout=log, stderr=log, timeout=600)
        self.env = {**stage.env, **(env or {})}
        self.log = log
        self.proc = subprocess.Popen(self._in_root([*stage.entrypoint, *(args or stage.cmd)], self.env,
                                                   stage.user, stage.workdir),
                                     stdout=log, stderr=subprocess.STDOUT if log else None)
        self.pid = self._init_pid()

    def _in_root(self, argv, env, user, workdir, binds=()):
        return in_root(self.merged, argv, env, user, workdir, [*self.binds, *binds], self.overlay,
                       passwd_root=self.root)

    def _init_pid(self):
        """The host PID of the container's PID 1 (unshare's forked child)."""
        children = pathlib.Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the container exited {self.proc.returncode} at once")
            with contextlib.suppress(FileNotFoundError):
                pids = children.read_text().split()
                if pids:
                    return int(pids[0])
            time.sleep(0.01)
        raise RuntimeError("unshare started no PID 1")

    def exec(self, argv, env=None, user=None, timeout=60):
        """`docker exec`: argv in the container's mount and PID namespaces, root and working directory,
        as the image's USER with the container's environment (+ `env`)."""
        uid, gid, home = passwd_entry(self.root, user or self.stage.user)
        full_env = {"PATH": DEFAULT_PATH, "HOME": home, **self.env, **(env or {})}
        return subprocess.run(["nsenter", f"--target={self.pid}", "--mount", "--pid", "--root", "--wd",
                               f"--setuid={uid}", f"--setgid={gid}", "--", "/usr/bin/env", "-i",
                               *(f"{k}={v}" for k, v in full_env.items()), *argv],
                              capture_output=True, text=True, timeout=timeout)

    def healthcheck(self, env=None):
        """The HEALTHCHECK's exit code, run as Docker runs it (in the container)."""
        timeout = float(self.stage.healthcheck_options.get("timeout", "30s").rstrip("s"))
        try:
            return self.exec(self.stage.healthcheck, env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return 124

    def uid(self):
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])

    def stop(self, timeout=60):
        """`docker stop`: SIGTERM to PID 1, SIGKILL after `timeout`; the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def main(argv):
    if len(argv) >= 1 and argv[0] == "rootfs":
        print(stage_root(Stage(argv[1] if len(argv) > 1 else DOCKERFILE)))
        return 0
    if len(argv) >= 2 and argv[0] == "run":
        prefix, rest, env = argv[1], argv[2:], {}
        while rest[:1] == ["-e"]:
            key, _, value = rest[1].partition("=")
            env[key], rest = value, rest[2:]
        stage = Stage()
        with tempfile.TemporaryDirectory(prefix="runtime-stage-run.") as work:
            container = Container(stage, stage_root(stage), prefix, work, rest, env)
            with contextlib.suppress(KeyboardInterrupt):
                container.proc.wait()
            return container.stop()
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
