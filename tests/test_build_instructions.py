"""Typed instructions, stages, expansion per instruction, ARG scoping; cases B08-B16."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.build import instructions as ins
from dockyard.build.parser import DockerfileError

CASES = Path(__file__).resolve().parent / "data" / "cases"


def case_file(*parts: str) -> str:
    return CASES.joinpath(*parts).read_text(encoding="utf-8")


def one(text: str) -> ins.Instruction:
    return ins.parse_dockerfile("FROM a\n" + text).stages[0].instructions[0]


def test_every_instruction() -> None:
    df = ins.parse_dockerfile(
        "ARG V=1 W\n"
        "FROM --platform=linux/amd64 base:$V AS Build\n"
        "RUN --mount=type=cache,target=/c --network=none make\n"
        'CMD ["a"]\nENTRYPOINT []\nENV A=1 B="2 3"\nENV LEGACY a b\nLABEL k=v\nEXPOSE 443 80/udp\n'
        "WORKDIR /w\nUSER 1000:1000\nVOLUME /v /w\nCOPY --from=x --chown=1:2 --chmod=644 --link a b /d/\n"
        "ADD --checksum=sha256:00 --keep-git-dir=false t.tar /\nSTOPSIGNAL SIGTERM\n"
        "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --start-interval=1s --retries=3 CMD curl x\n"
        'SHELL ["/bin/bash", "-c"]\nONBUILD RUN echo hi\nMAINTAINER me\n'
    )
    assert [(a.pairs, a.start_line) for a in df.args_before_from] == [
        ([("V", "1"), ("W", None)], 1)
    ]
    stage = df.stages[0]
    assert (stage.name, stage.from_.base, stage.from_.platform) == (
        "build",
        "base:$V",
        "linux/amd64",
    )
    (
        run,
        cmd,
        entry,
        env,
        legacy,
        label,
        expose,
        workdir,
        user,
        volume,
        copy,
        add,
        stop,
        health,
        shell,
        onb,
        mnt,
    ) = stage.instructions
    assert isinstance(run, ins.Run) and (run.mounts, run.network, run.command) == (
        ["type=cache,target=/c"],
        "none",
        ["make"],
    )
    assert isinstance(cmd, ins.Cmd) and (cmd.command, cmd.prepend_shell) == (["a"], False)
    assert isinstance(entry, ins.Entrypoint) and entry.command is None
    assert isinstance(env, ins.Env) and env.pairs == [("A", "1"), ("B", '"2 3"')]
    assert isinstance(legacy, ins.Env) and legacy.pairs == [("LEGACY", "a b")]
    assert isinstance(label, ins.Label) and label.pairs == [("k", "v")]
    assert isinstance(expose, ins.Expose) and expose.ports == ["443", "80/udp"]
    assert isinstance(workdir, ins.Workdir) and workdir.path == "/w"
    assert isinstance(user, ins.User) and user.user == "1000:1000"
    assert isinstance(volume, ins.Volume) and volume.volumes == ["/v", "/w"]
    assert isinstance(copy, ins.Copy)
    assert (copy.sources, copy.dest, copy.from_, copy.chown, copy.chmod, copy.link) == (
        ["a", "b"],
        "/d/",
        "x",
        "1:2",
        "644",
        True,
    )
    assert isinstance(add, ins.Add) and (add.checksum, add.keep_git_dir, add.sources) == (
        "sha256:00",
        False,
        ["t.tar"],
    )
    assert isinstance(stop, ins.StopSignal) and stop.signal == "SIGTERM"
    assert isinstance(health, ins.Healthcheck)
    assert (
        health.test,
        health.interval,
        health.timeout,
        health.start_period,
        health.start_interval,
    ) == (
        ["CMD-SHELL", "curl x"],
        90.0,
        0.5,
        2.0,
        1.0,
    )
    assert health.retries == 3
    assert isinstance(shell, ins.Shell) and shell.shell == ["/bin/bash", "-c"]
    assert (
        isinstance(onb, ins.Onbuild)
        and onb.expression == "RUN echo hi"
        and isinstance(onb.trigger, ins.Run)
    )
    assert isinstance(mnt, ins.Maintainer) and mnt.maintainer == "me"
    assert df.stage("BUILD") is stage and df.stage("0") is stage
    with pytest.raises(KeyError):
        df.stage("nope")


def test_healthcheck_none_and_exec() -> None:
    none = one("HEALTHCHECK NONE\n")
    assert isinstance(none, ins.Healthcheck) and none.test == ["NONE"]
    exe = one('HEALTHCHECK CMD ["true", "x"]\n')
    assert isinstance(exe, ins.Healthcheck) and exe.test == ["CMD", "true", "x"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FOOBAR x", "unknown instruction: FOOBAR"),
        ("FROM a b", "FROM requires either one or three arguments"),
        (
            "FROM a AS 1x",
            'invalid name for build stage: "1x", name can\'t start with a number or contain symbols',
        ),
        (
            "COPY onlyone",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "ADD x",
            "ADD requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        ("COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination"),
        ("COPY --bogus=1 a b", "unknown flag: bogus"),
        ("COPY --from a b", "missing a value on flag: from"),
        ("COPY --from=a --from=b a b", "duplicate flag specified: from"),
        ("COPY --link=maybe a b", "expecting boolean value for flag link, not: maybe"),
        ("RUN --network=bridge x", 'unsupported network mode "bridge"'),
        ("RUN --security=weird x", 'unsupported security mode "weird"'),
        # Was accepted and ignored (the step ran sandboxed).
        (
            "RUN --security=insecure x",
            "granting entitlement security.insecure is not allowed by build daemon configuration",
        ),
        ("ENV", "ENV requires at least one argument"),
        ("LABEL =x", "LABEL names can not be blank"),
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("USER", "USER requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("MAINTAINER", "MAINTAINER requires exactly one argument"),
        ('VOLUME [" "]', "VOLUME specified can not be an empty string"),
        ("VOLUME", "VOLUME requires at least one argument"),
        ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []", "SHELL requires at least one argument"),
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK CONNECT x", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK --interval=5 CMD x", 'time: invalid duration "5"'),
        ("HEALTHCHECK --timeout=1ns CMD x", 'Interval "timeout" cannot be less than 1ms'),
        ("HEALTHCHECK --retries=x CMD x", 'strconv.ParseInt: parsing "x": invalid syntax'),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD maintainer x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_instruction_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        ins.parse_dockerfile("FROM a\n\n" + text + "\n", "sub/Dockerfile")
    assert str(info.value) == f"sub/Dockerfile:3: {message}"


def test_instruction_before_from() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: no build stage in current context$"):
        ins.parse_dockerfile("ARG X\nRUN x\nFROM a\n")


def test_expand_instruction_where_docker_expands() -> None:
    env = {"V": "1", "P": "8080 9090", "U": "me"}
    df = ins.parse_dockerfile(
        "FROM a\nENV A=$V B=${V}x\nLABEL l$V=$V\nARG X=$V Y\nEXPOSE $P\nWORKDIR /w/$V\nUSER $U\nSTOPSIGNAL SIG$V\n"
        "VOLUME /v$V\nCOPY --from=s$V --chown=$U --chmod=6$V$V src$V /d$V\nADD --chown=$U a$V /b\n"
        "RUN --mount=target=/$V echo $V\nCMD echo $V\nHEALTHCHECK CMD $V\nMAINTAINER $U\nONBUILD RUN $V\n"
    )
    used: set[str] = set()
    out = [ins.expand_instruction(i, env, used=used) for i in df.stages[0].instructions]
    (
        env_i,
        label,
        arg,
        expose,
        workdir,
        user,
        stop,
        volume,
        copy,
        add,
        run,
        cmd,
        health,
        maint,
        onb,
    ) = out
    assert isinstance(env_i, ins.Env) and env_i.pairs == [("A", "1"), ("B", "1x")]
    assert isinstance(label, ins.Label) and label.pairs == [("l1", "1")]
    assert isinstance(arg, ins.Arg) and arg.pairs == [("X", "1"), ("Y", None)]
    assert isinstance(expose, ins.Expose) and expose.ports == ["8080", "9090"]
    assert isinstance(workdir, ins.Workdir) and workdir.path == "/w/1"
    assert isinstance(user, ins.User) and user.user == "me"
    assert isinstance(stop, ins.StopSignal) and stop.signal == "SIG1"
    assert isinstance(volume, ins.Volume) and volume.volumes == ["/v1"]
    assert isinstance(copy, ins.Copy) and (
        copy.from_,
        copy.chown,
        copy.chmod,
        copy.sources,
        copy.dest,
    ) == (
        "s1",
        "me",
        "611",
        ["src1"],
        "/d1",
    )
    assert isinstance(add, ins.Add) and (add.chown, add.sources) == ("me", ["a1"])
    assert isinstance(run, ins.Run) and (run.mounts, run.command) == (["target=/1"], ["echo $V"])
    assert isinstance(cmd, ins.Cmd) and cmd.command == ["echo $V"]
    assert isinstance(health, ins.Healthcheck) and health.test == ["CMD-SHELL", "$V"]
    assert isinstance(maint, ins.Maintainer) and maint.maintainer == "$U"
    assert isinstance(onb, ins.Onbuild) and onb.expression == "RUN $V"
    assert used == {"V", "P", "U"}


def test_expand_instruction_error_names_line() -> None:
    instr = ins.parse_dockerfile("FROM a\nWORKDIR ${X\n").stages[0].instructions[0]
    with pytest.raises(DockerfileError) as info:
        ins.expand_instruction(instr, {})
    assert str(info.value).startswith('Dockerfile:2: failed to process "${X": ')


def test_arg_scoping_helpers() -> None:
    df = ins.parse_dockerfile("ARG A=1\nARG B=${A}2\nARG C\nFROM x:$B\nARG A\nARG D=d\nARG E\n")
    used: set[str] = set()
    globals_ = ins.global_args(df.args_before_from, {"A": "9"}, used)
    assert globals_ == {"A": "9", "B": "92"} and used == {"A", "B", "C"}
    from_ = ins.expand_instruction(df.stages[0].from_, globals_)
    assert isinstance(from_, ins.From) and from_.base == "x:92"
    declared = {"A", "B", "C"}
    assert ins.declare_arg("A", None, {}, globals_, declared) == "9"
    assert ins.declare_arg("D", "d", {"D": "cli"}, globals_, declared) == "cli"
    assert ins.declare_arg("D", "d", {}, globals_, declared) == "d"
    assert ins.declare_arg("E", None, {}, globals_, declared) is None
    assert ins.declare_arg("B", None, {}, globals_, frozenset()) is None


def test_unused_build_args_warning() -> None:
    args = {"foo": "1", "bar": "2", "HTTP_PROXY": "x", "used": "3"}
    assert ins.unused_build_args_warning(args, {"used"}) == (
        "[Warning] One or more build-args [bar foo] were not consumed"
    )
    assert ins.unused_build_args_warning({"no_proxy": "x"}, set()) is None


def test_parse_duration() -> None:
    assert ins.parse_duration("1h2m3.5s") == 3723.5
    assert ins.parse_duration("0") == 0.0
    assert ins.parse_duration("250us") == pytest.approx(0.00025)
    for bad in ("", "5", "1x", "s"):
        with pytest.raises(ValueError, match="time: invalid duration"):
            ins.parse_duration(bad)


def test_run_script_heredoc_forms() -> None:
    df = ins.parse_dockerfile(
        "FROM a\nRUN <<-EOF\n\techo one\nEOF\nRUN cat <<A > /x && cat <<B\nfirst\nA\nsecond\nB\nRUN plain\n"
    )
    only, multi, plain = df.stages[0].instructions
    assert isinstance(only, ins.Run) and only.script() == ["echo one\n"]
    assert isinstance(multi, ins.Run) and multi.script() == [
        "cat <<A > /x && cat <<B\nfirst\nA\nsecond\nB"
    ]
    assert isinstance(plain, ins.Run) and plain.script() == ["plain"]


# --- the cases (tests/data/cases): what their builds depend on from the parser and expansion ---


def test_case_b08_arg_scope() -> None:
    df = ins.parse_dockerfile(case_file("B08", "Dockerfile"))
    assert [a.pairs for a in df.args_before_from] == [
        [("BASE", "busybox")],
        [("GREETING", "hello-global")],
    ]
    first, second = df.stages
    assert first.instructions[-1].start_line == 9  # ARG STAGE_LOCAL belongs to the first stage
    for build_args, expected in (({}, "hello-global"), ({"GREETING": "from-cli"}, "from-cli")):
        globals_ = ins.global_args(df.args_before_from, build_args)
        assert ins.expand_instruction(first.from_, globals_).base == "busybox"  # type: ignore[attr-defined]
        assert ins.expand_instruction(second.from_, globals_).base == "busybox:latest"  # type: ignore[attr-defined]
        arg = first.instructions[1]
        assert isinstance(arg, ins.Arg) and arg.pairs == [("GREETING", None)]
        assert ins.declare_arg("GREETING", None, build_args, globals_, set(globals_)) == expected


def test_case_b09_expansion() -> None:
    df = ins.parse_dockerfile(case_file("B09", "Dockerfile"))
    env: dict[str, str] = {}
    workdir = ""
    for instr in df.stages[0].instructions:
        expanded = ins.expand_instruction(instr, env)
        if isinstance(expanded, ins.Env):
            env.update(expanded.pairs)
        if isinstance(expanded, ins.Workdir):
            workdir = expanded.path
    expected = case_file("B09", "expected.txt").splitlines()
    names = [line.split("=", 1)[0] for line in expected[:-1]]
    assert [f"{name}={env[name]}" for name in names] == expected[:-1]
    assert workdir == expected[-1]


def test_case_b10_entrypoint_cmd_forms() -> None:
    forms = {}
    for letter in "abcd":
        stage = ins.parse_dockerfile(case_file("B10", f"Dockerfile.{letter}")).stages[0]
        forms[letter] = [(type(i).__name__, i.command, i.prepend_shell) for i in stage.instructions]  # type: ignore[attr-defined]
    assert forms == {
        "a": [("Entrypoint", ["sh", "-c"], False), ("Cmd", ["echo", "hello"], False)],
        "b": [("Entrypoint", ['echo "argv0=[$0] rest=[$*]"'], True), ("Cmd", ["c1", "c2"], False)],
        "c": [("Entrypoint", ["echo", "entry"], False)],
        "d": [("Entrypoint", ["echo"], False), ("Cmd", ["echo from-cmd"], True)],
    }


def test_case_b12_copy_forms() -> None:
    stage = ins.parse_dockerfile(case_file("B12", "ctx", "Dockerfile")).stages[0]
    copies = [(i.sources, i.dest, i.chown) for i in stage.instructions if isinstance(i, ins.Copy)]
    assert copies == [
        (["src"], "/dst1", ""),
        (["src"], "/dst2/", ""),
        (["src/"], "/dst3/src/", ""),
        (["tree/c/"], "/pre/x/y/c/", "1000:1000"),
        (["src/a.txt"], "/newparent/one/", "1000:1000"),
    ]


def test_case_b15_continuations_and_escape() -> None:
    runs = [
        i.command
        for i in ins.parse_dockerfile(case_file("B15", "Dockerfile.continuation"))
        .stages[0]
        .instructions
        if isinstance(i, ins.Run)
    ]
    assert runs == [
        ["echo one > /log     && echo two >> /log"],
        ["echo three >> /log # trailing words end with a backslash RUN echo four >> /log"],
        ['echo "five six" >> /log'],
    ]
    for name, escape, words, winpath in (
        ("Dockerfile.escape-directive", "`", "echo first     second > /esc.txt", "C:\\dir\\sub"),
        ("Dockerfile.directive-too-late", "\\", None, "C:dirsub"),
    ):
        df = ins.parse_dockerfile(case_file("B15", name))
        assert df.escape == escape
        instrs = df.stages[0].instructions
        if words is not None:
            assert instrs[0].command == [words]  # type: ignore[attr-defined]
        env = next(i for i in instrs if isinstance(i, ins.Env))
        assert ins.expand_instruction(env, {}, escape=df.escape).pairs == [("WINPATH", winpath)]  # type: ignore[attr-defined]


def test_case_b16_heredocs() -> None:
    df = ins.parse_dockerfile(case_file("B16", "Dockerfile"))
    instrs = df.stages[0].instructions
    env = {"NAME": "world"}
    copies = [ins.expand_instruction(i, env) for i in instrs if isinstance(i, ins.Copy)]
    assert [(c.dest, [(s.path, s.data) for s in c.contents]) for c in copies] == [  # type: ignore[attr-defined]
        ("/unquoted.txt", [("EOF", '"hello" world $NAME\n')]),
        ("/quoted.txt", [("EOF", '"hello" ${NAME}\n')]),
        ("/tabs.txt", [("EOF", "tab-indented world\n")]),
    ]
    runs = [i for i in instrs if isinstance(i, ins.Run)]
    assert [r.script() for r in runs] == [
        ['echo "run sees ${NAME}" > /run.txt\necho second-line >> /run.txt\n'],
        ["<<'EOF' cat > /script.sh\n" + 'echo "deferred [${NAME}]"\n' + "EOF"],
        ["cat <<A > /multi1.txt && cat <<B > /multi2.txt\nfirst\nA\nsecond\nB"],
    ]
