"""The manual page exportd(1): written by `exportd help-man` from the
option table and the command list, it must say what every `--help` says
(each option of each command, with its variable and default) and render
without a warning.

    EXPORTD_BIN=build-asan/exportd /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/install
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))

from apilib import BIN, sanitizer_hits  # noqa: E402


def run(*args, **kw):
    cp = subprocess.run([str(BIN)] + list(args), capture_output=True,
                        text=True, timeout=30, stdin=subprocess.DEVNULL, **kw)
    assert not sanitizer_hits(cp.stderr), cp.stderr
    return cp


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    cp = run("help-man")
    assert cp.returncode == 0, cp.stderr
    assert cp.stderr == ""
    path = tmp_path_factory.mktemp("man") / "exportd.1"
    path.write_text(cp.stdout)
    return path


@pytest.fixture(scope="module")
def text(page):
    """The page as man shows it, wide enough that no entry wraps."""
    cp = subprocess.run(["man", "-l", str(page)], capture_output=True,
                        text=True, timeout=30,
                        env=dict(os.environ, MANWIDTH="250", MAN_KEEP_FORMATTING=""))
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def commands_of_help():
    """[(name, args)] from the command list of exportd --help."""
    cp = run("--help")
    assert cp.returncode == 0
    listing = cp.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    out = []
    for line in listing.splitlines():
        left = re.split(r"\s{2,}", line.strip())[0]
        words = left.split(" ")
        # "token create --account NAME": the name is the leading words
        n = 0
        while n < len(words) and re.fullmatch(r"[a-z][a-z-]*", words[n]):
            n += 1
        out.append((" ".join(words[:n]), " ".join(words[n:])))
    assert len(out) >= 8, listing
    return out


def options_of_help(cmd):
    """{--name: (metavar, env, default)} from exportd CMD --help."""
    cp = run(cmd, "--help")
    assert cp.returncode == 0, cp.stderr
    opts, lines = {}, cp.stdout.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^  (--[a-z][a-z0-9-]*)(?: ([A-Z][A-Z:_]*))?\s", line)
        if m is None or m.group(1) == "--help":
            continue
        e = re.match(r"^\s+\[env (EXPORTD_[A-Z_]+)(?:, default (.*))?\]$", lines[i + 1])
        assert e, "no [env ...] line under %s in exportd %s --help" % (m.group(1), cmd)
        opts[m.group(1)] = (m.group(2), e.group(1), e.group(2))
    assert opts, cp.stdout
    return opts


def option_entry(text, name, metavar):
    """The lines of one option's entry under OPTIONS."""
    options = text.split("\nOPTIONS\n", 1)[1].split("\nENVIRONMENT\n", 1)[0]
    head = "       %s%s\n" % (name, " " + metavar if metavar else "")
    assert head in options, "the page has no entry %r" % head.strip()
    return options.split(head, 1)[1].split("\n\n", 1)[0]


def test_page_renders_without_warnings(page):
    cp = subprocess.run(["groff", "-ww", "-man", "-z", str(page)],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr
    cp = subprocess.run(["man", "--warnings", "-l", str(page)],
                        capture_output=True, text=True, timeout=30,
                        env=dict(os.environ, MANWIDTH="80"))
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr
    assert cp.stdout.startswith("EXPORTD(1)")


def test_page_has_every_section(text):
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                    "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES"):
        assert "\n%s\n" % section in "\n" + text, "no %s section" % section


def test_every_command_is_in_synopsis_and_commands(text):
    synopsis = text.split("\nSYNOPSIS\n", 1)[1].split("\nDESCRIPTION\n", 1)[0]
    commands = text.split("\nCOMMANDS\n", 1)[1].split("\nOPTIONS\n", 1)[0]
    for name, args in commands_of_help():
        line = ("exportd %s %s" % (name, args)).rstrip()
        assert re.search(r"^\s+%s( \[options\])?$" % re.escape(line), synopsis, re.M), \
            "SYNOPSIS lacks %r" % line
        tag = ("%s %s" % (name, args)).rstrip()
        assert re.search(r"^       %s(\s|$)" % re.escape(tag), commands, re.M), \
            "COMMANDS lacks %r" % tag


def test_every_option_of_every_command_with_its_variable_and_default(text):
    firsts = sorted({name.split(" ")[0] for name, _ in commands_of_help()} - {"help-man"})
    assert {"serve", "token", "migrate", "dump", "restore"} <= set(firsts)
    seen = set()
    for cmd in firsts:
        for name, (metavar, env, default) in options_of_help(cmd).items():
            entry = option_entry(text, name, metavar)
            m = re.search(r"^\s+Environment: (EXPORTD_[A-Z_]+)(?:; default: (.*))?\.$",
                          entry, re.M)
            assert m, (name, entry)
            assert (m.group(1), m.group(2)) == (env, default), (name, entry)
            m = re.search(r"Commands: ([a-z, -]+)\.", entry)
            assert m and cmd in m.group(1).split(", "), \
                "%s: the page does not say that %s takes it" % (name, cmd)
            env_section = text.split("\nENVIRONMENT\n", 1)[1].split("\nFILES\n", 1)[0]
            assert re.search(r"^       %s\n\s+%s$" % (env, re.escape(name)), env_section, re.M), \
                "ENVIRONMENT lacks %s" % env
            seen.add(name)
    # and nothing the commands do not take
    listed = set(re.findall(r"^       (--[a-z][a-z0-9-]*)", text.split("\nOPTIONS\n", 1)[1]
                            .split("\nENVIRONMENT\n", 1)[0], re.M))
    assert listed - {"--help"} == seen


def test_build_writes_the_same_page(page):
    """The build (meson) writes the page beside the binary; make install
    copies that file."""
    built = BIN.parent / "exportd.1"
    assert built.exists(), "the build did not write %s" % built
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    assert built.read_text() == run("help-man", env=env).stdout


def test_date_comes_from_source_date_epoch():
    cp = run("help-man", env=dict(os.environ, SOURCE_DATE_EPOCH="1796083200"))
    assert re.search(r'^\.TH EXPORTD 1 "2026-12-01" "exportd \d+\.\d+\.\d+"', cp.stdout, re.M)


def test_help_man_takes_no_argument():
    cp = run("help-man", "--listen")
    assert cp.returncode == 2
    assert cp.stdout == ""
    assert "exportd help-man: unexpected argument --listen" in cp.stderr
