"""./make.sh, the README's entry point on a bare Debian machine: when make or cc is missing it
runs scripts/install-deps.sh (apt-get as root, else the one command to run), then make.

Each test runs the real scripts with PATH set to a folder of links to /usr/bin less make and
node, in which apt-get, apt-cache, dpkg-query and id are stand-ins: apt-get logs its arguments
and "installs" a make that logs how it was called, so nothing on this machine is installed or
changed."""
import os
import pathlib
import subprocess

from conftest import ROOT

FAKED = {"make", "apt-get", "apt-cache", "dpkg-query", "id", "node", "npm"}


def script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def fake_system(tmp_path, uid=0, installed=False, have_make=False, nodejs="20.19.2+dfsg-1"):
    """A PATH folder standing for a Debian system: uid is what `id -u` says, installed whether
    dpkg reports every package installed, have_make whether make is on PATH already, nodejs
    the version apt would install (Debian 12: 18.x)."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for entry in os.scandir("/usr/bin"):
        if entry.name not in FAKED:
            (bin_ / entry.name).symlink_to(entry.path)
    log = tmp_path / "log"
    make_body = f'echo "make $*" >> {log}\n'
    script(bin_ / "id", f'[ "$1" = -u ] && echo {uid} || exec /usr/bin/id "$@"\n')
    script(bin_ / "apt-cache", f'echo "nodejs:"; echo "  Candidate: {nodejs}"\n')
    script(bin_ / "dpkg-query",
           "printf 'install ok installed'\n" if installed else "exit 1\n")
    # apt-get install leaves a make behind, as the real build-essential would.
    script(bin_ / "apt-get",
           f'echo "apt-get $*" >> {log}\n'
           f'[ "$1" = install ] && printf \'#!/bin/sh\\n{make_body}\' > {bin_}/make'
           f' && chmod +x {bin_}/make\nexit 0\n')
    if have_make:
        script(bin_ / "make", make_body)
    return bin_, log


def bootstrap(bin_, *args):
    env = {"PATH": str(bin_), "HOME": os.environ.get("HOME", "/root"), "LC_ALL": "C"}
    return subprocess.run([str(ROOT / "make.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def lines(log):
    return log.read_text().splitlines() if log.exists() else []


def test_root_without_make_installs_then_runs_the_target(tmp_path):
    bin_, log = fake_system(tmp_path, uid=0)
    p = bootstrap(bin_, "demo")
    assert p.returncode == 0, p.stderr
    assert "make.sh: cannot run make yet (missing: make)" in p.stdout
    got = lines(log)
    assert got[0] == "apt-get update -qq"
    install = got[1].split()
    assert install[:2] == ["apt-get", "install"]
    for pkg in ("build-essential", "pkg-config", "libcriterion-dev", "python3-pytest"):
        assert pkg in install
    assert got[2:] == ["make demo"]


def test_node_older_than_20_is_not_installed(tmp_path):
    # Debian 12: node-llama-cpp needs Node.js 20, so nodejs and npm would buy nothing.
    bin_, log = fake_system(tmp_path, uid=0, nodejs="18.20.4+dfsg-1~deb12u3")
    p = bootstrap(bin_, "demo")
    assert p.returncode == 0, p.stderr
    install = lines(log)[1].split()
    assert "build-essential" in install and "nodejs" not in install and "npm" not in install
    assert "llama.cpp cross-checks will be skipped (Debian 12 has 18" in p.stderr
    # Node.js 20 or later from Debian: installed with the rest.
    (tmp_path / "trixie").mkdir()
    bin_, log = fake_system(tmp_path / "trixie", uid=0)
    p = bootstrap(bin_, "demo")
    assert p.returncode == 0, p.stderr
    assert {"nodejs", "npm"} <= set(lines(log)[1].split())


def test_user_without_make_is_told_the_one_command(tmp_path):
    bin_, log = fake_system(tmp_path, uid=1000)
    p = bootstrap(bin_, "test")
    assert p.returncode == 1
    cmd = [l for l in p.stderr.splitlines() if "apt-get install" in l]
    assert len(cmd) == 1 and cmd[0].split()[:4] == ["sudo", "apt-get", "install", "-y"]
    assert "build-essential" in cmd[0].split()
    assert lines(log) == []  # nothing installed, make never run


def test_make_present_runs_it_without_installing(tmp_path):
    bin_, log = fake_system(tmp_path, uid=0, have_make=True)
    p = bootstrap(bin_, "test", "PYTEST_ARGS=-x")
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    assert lines(log) == ["make test PYTEST_ARGS=-x"]


def test_make_installed_but_off_path_is_named(tmp_path):
    bin_, log = fake_system(tmp_path, uid=0, installed=True)
    p = bootstrap(bin_, "demo")
    assert p.returncode == 1
    assert "make still not on PATH" in p.stderr
    assert not any(l.startswith("make ") for l in lines(log))


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = [l.strip() for l in (ROOT / ".ci" / "run").read_text().splitlines()
          if l.strip() and not l.startswith("#") and not l.startswith(("set ", "cd "))]
    assert ci == ["./make.sh test"]
    assert "./make.sh test" in readme and "./make.sh demo" in readme
