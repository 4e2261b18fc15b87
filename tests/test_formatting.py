"""The Go-template subset, Docker's table layout and go-units formatting."""

from __future__ import annotations

import pytest

from conftest import Runner
from dockyard.cli.formatting import (
    TemplateError,
    format_items,
    format_table,
    go_str,
    human_duration,
    human_size,
    render,
    tabwrite,
)

DATA = {
    "ID": "abc",
    "State": {"Status": "running", "Pid": 42, "Running": True},
    "List": ["a", "b", "c"],
    "Empty": [],
    "Labels": {"k": "v", "z": "1"},
    "Nil": None,
    "Zero": 0,
    "Name": "Web",
    "Items": [{"Name": "a"}, {"Name": "b"}],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.ID}}", "abc"),
        ("id={{ .ID }}!", "id=abc!"),
        ("{{.State.Status}} {{.State.Pid}} {{.State.Running}}", "running 42 true"),
        ("{{json .List}}", '["a","b","c"]'),
        ("{{json .State}}", '{"Status":"running","Pid":42,"Running":true}'),
        ("{{.List | json}}", '["a","b","c"]'),
        ('{{json "<&>"}}', '"<&>"'),
        ('{{index .Labels "k"}}', "v"),
        ("{{index .List 1}}", "b"),
        ("{{range .List}}[{{.}}]{{end}}", "[a][b][c]"),
        ("{{range .Empty}}x{{else}}none{{end}}", "none"),
        ("{{range $i, $e := .List}}{{$i}}{{$e}} {{end}}", "0a 1b 2c "),
        ("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", "k=v;z=1;"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if .Zero}}a{{else if .Nil}}b{{else}}c{{end}}", "c"),
        ("{{if not .Zero}}yes{{end}}", "yes"),
        ('{{if eq .State.Status "exited" "running"}}match{{end}}', "match"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ('{{join .List ","}}', "a,b,c"),
        ('{{join (split "x:y" ":") "-"}}', "x-y"),
        ("{{upper .Name}} {{lower .Name}} {{.Name | upper}}", "WEB web WEB"),
        ("{{println .ID}}", "abc\n"),
        ('{{printf "%s-%d|%-5s|%5s" .ID .State.Pid "l" "r"}}', "abc-42|l    |    r"),
        ('{{printf "%q %v" .ID .List}}', '"abc" [a b c]'),
        ("{{len .List}}", "3"),
        ("{{.Labels}}", "map[k:v z:1]"),
        ("{{.List}}", "[a b c]"),
        ("{{truncate .ID 2}}", "ab"),
        ("{{(index .Items 1).Name}}", "b"),
        ("{{(.State).Status}} {{ (.State) }}", "running map[Pid:42 Running:true Status:running]"),
        ("a {{- .ID -}} b", "aabcb"),
        ("{{/* a comment */}}x", "x"),
        ("{{`raw`}}", "raw"),
        (
            "{{.}}",
            "map[Empty:[] ID:abc Items:[map[Name:a] map[Name:b]] Labels:map[k:v z:1] "
            "List:[a b c] Name:Web Nil:<nil> "
            "State:map[Pid:42 Running:true Status:running] Zero:0]",
        ),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, DATA) == expected


def test_missing_field_strict_and_map() -> None:
    with pytest.raises(TemplateError) as e:
        render("{{.Foo}}", DATA)
    assert str(e.value) == ('template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo')
    with pytest.raises(TemplateError, match=r":1:5: executing .* at <.State.Nope>"):
        render("x {{ .State.Nope}}", DATA)
    assert render("{{.Foo}}", DATA, strict=False) == "<no value>"


def test_error_position_on_later_line() -> None:
    with pytest.raises(TemplateError, match=r"template: :2:4: executing"):
        render("x\nab{{.Nope}}", DATA)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{.ID", "unclosed action"),
        ("{{nosuch .ID}}", 'function "nosuch" not defined'),
        ("{{if .ID}}x", "unexpected EOF"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{.ID |}}", "missing command"),
        # A traceback (json.loads at execution): inspect -f '{{"\n"}}' once the CLI's
        # pre-formatting made the \n a newline inside the quotes.
        ('{{"a\nb"}}', "unterminated quoted string"),
        ('{{"\\q"}}', "invalid syntax"),
    ],
)
def test_parse_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        render(template, DATA)
    assert str(e.value).startswith("template parsing error: template: :1:")
    assert message in str(e.value)
    assert e.value.exit_code == 1


def test_go_values() -> None:
    assert go_str(None) == "<no value>"
    assert go_str(False) == "false"
    assert go_str(4260000.0) == "4.26e+06"
    assert go_str(2.5) == "2.5"
    assert go_str(3.0) == "3"
    assert go_str([1, None]) == "[1 <nil>]"


def test_tabwriter_layout() -> None:
    # Docker's NewWriter(out, 10, 1, 3, ' ', 0): width = max(10, widest + 3); last column raw.
    text = "REPOSITORY\tTAG\tIMAGE ID\tSIZE\nbusybox\tlatest\t0123456789ab\t4.26MB\n"
    assert tabwrite(text) == (
        "REPOSITORY   TAG       IMAGE ID       SIZE\nbusybox      latest    0123456789ab   4.26MB\n"
    )
    assert format_table(["A", "B"], [["x" * 12, "y"]]) == "A              B\nxxxxxxxxxxxx   y\n"


def test_tabwriter_column_blocks() -> None:
    # A line without the column ends that column's block (Go's tabwriter does the same).
    assert tabwrite("a\tb\nno tabs\nccccccccccccc\td\n") == (
        "a         b\nno tabs\nccccccccccccc   d\n"
    )


def test_format_items_table_json_and_plain() -> None:
    items = [{"ID": "1", "Name": "one"}, {"ID": "22", "Name": "two"}]
    headers = {"ID": "CONTAINER ID", "Name": "NAMES"}
    assert format_items("table {{.ID}}\\t{{.Name}}", items, headers) == (
        "CONTAINER ID   NAMES\n1              one\n22             two\n"
    )
    # Header functions return their argument: {{upper .Name}} heads as NAMES.
    assert format_items("table {{upper .Name}}", items, headers) == "NAMES\nONE\nTWO\n"
    assert format_items("table {{.ID}}", [], headers) == "CONTAINER ID\n"
    assert format_items("table", items, headers, default="table {{.Name}}") == "NAMES\none\ntwo\n"
    assert format_items("", items, headers, default="table {{.Name}}") == "NAMES\none\ntwo\n"
    assert format_items("json", items[:1]) == '{"ID":"1","Name":"one"}\n'
    assert format_items("{{.ID}}\\n", items) == "1\n\n22\n\n"
    assert format_items("  {{.Name}}  ", items) == "one\ntwo\n"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (59 * 60, "59 minutes"),
        (3600, "About an hour"),
        (2 * 3600, "2 hours"),
        (47 * 3600, "47 hours"),
        (3 * 86400, "3 days"),
        (14 * 86400, "2 weeks"),
        (60 * 86400, "2 months"),
        (400 * 86400, "13 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (4261550, "4.26MB"),
        (1234567890, "1.23GB"),
        (10_200, "10.2kB"),
        (123_456_789, "123MB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{json}}", "at <json>: wrong number of args for json: want 1 got 0"),
        ("{{join}}", "at <join>: wrong number of args for join: want 2 got 0"),
        ('{{.List | join "," "x"}}', "wrong number of args for join: want 2 got 3"),
        ("{{index}}", "at <index>: wrong number of args for index: want at least 1 got 0"),
        ("{{len json}}", ':1:6: executing "" at <json>: wrong number of args for json'),
        ("{{pad .ID 1}}", "wrong number of args for pad: want 3 got 2"),
        ("{{eq .ID}}", "error calling eq: missing argument for comparison"),
        ("{{index .List 9}}", "error calling index: index out of range: 9"),
        ('{{lt 1 "a"}}', "error calling lt: incompatible types for comparison"),
        ("{{upper .Zero}}", "wrong type of args for upper: got (int)"),
    ],
)
def test_function_call_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        render(template, DATA)
    assert str(e.value).startswith("template: :1:")
    assert message in str(e.value)
    assert "positional" not in str(e.value) and "object" not in str(e.value)


def test_header_function_arity() -> None:
    with pytest.raises(TemplateError, match="wrong number of args for json: want 1 got 0"):
        format_items("table {{json}}", [], {"ID": "ID"})


def test_missing_map_key_chain_is_no_value() -> None:
    # Go maps: fields of a missing key are <no value>; fields of a null value are an error.
    assert render("{{.Foo.Bar}}|{{.State.Nope}}", DATA, strict=False) == "<no value>|<no value>"
    with pytest.raises(TemplateError, match="nil pointer evaluating interface {}.X"):
        render("{{.Nil.X}}", DATA, strict=False)


# Expected outputs recorded from Go 1.19.8's text/template (template.Execute of the same
# strings, nil data) on this machine.
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{printf "%0999999999d" 1}}', "%!(NOVERB)%!(EXTRA int=1)"),
        ('{{printf "a%0999999999d|%d" 1 2}}', "a%!(NOVERB)%!(EXTRA int=1, int=2)"),
        ('{{printf "%10000001d|" 1 | len}}', "10000002"),
        ('{{printf "%.99999999s" "x"}}', "%!(NOVERB)%!(EXTRA string=x)"),
        ('{{printf "%*d|" 5 1}}', "    1|"),
        ('{{printf "%*d|" 1000001 1}}', "%!(BADWIDTH)1|"),
        ('{{printf "%.*s|" 1000001 "abc"}}', "%!(BADPREC)abc|"),
        ('{{printf "%*d|" "x" 1}}', "%!(BADWIDTH)1|"),
        ('{{printf "%d" 1 "x" 2.5}}', "1%!(EXTRA string=x, float64=2.5)"),
        ('{{printf "%-*d|" -4 7}}', "7   |"),
    ],
)
@pytest.mark.timeout(20)
def test_printf_widths_are_bounded_as_go(template: str, expected: str) -> None:
    """Issue 13: a width of a billion asked for gigabytes; Go's fmt gives up past a million."""
    assert render(template, {}) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{" + "(" * 3000 + "1" + ")" * 3000 + "}}",
        "{{if 1}}" * 2000 + "x" + "{{end}}" * 2000,
        "{{with 1}}" * 2000 + "x" + "{{end}}" * 2000,
        "{{range 1}}" * 2000 + "x" + "{{end}}" * 2000,
    ],
)
@pytest.mark.timeout(20)
def test_deep_nesting_is_a_template_error(template: str) -> None:
    """A template nested thousands deep was a RecursionError traceback (Go caps parentheses
    at 10,000 with this message; Python's recursion limit comes first)."""
    with pytest.raises(TemplateError, match="max expression depth exceeded"):
        render(template, {})


@pytest.mark.timeout(20)
def test_deep_nesting_through_the_cli_is_one_line() -> None:
    import subprocess
    import sys
    from pathlib import Path

    dockyard = str(Path(sys.executable).parent / "dockyard")
    fmt = "{{" + "(" * 3000 + "1" + ")" * 3000 + "}}"
    r = subprocess.run(
        [dockyard, "images", "--format", fmt], capture_output=True, text=True, timeout=15
    )
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0, r.stderr[-500:]
    assert "max expression depth exceeded" in r.stderr


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('{{slice "abc" 1 99999999999}}', "error calling slice: index out of range: 99999999999"),
        ('{{slice "abc" 2 1}}', "error calling slice: invalid slice index: 2 > 1"),
        ('{{slice "abc" -1}}', "error calling slice: index out of range: -1"),
    ],
)
def test_slice_checks_indexes_as_go(template: str, message: str) -> None:
    """Python clamped ``slice`` indexes past the end (printing ``bc``); Go's text/template
    refuses them."""
    with pytest.raises(TemplateError, match=message):
        render(template, {})
    assert render('{{slice "abcd" 1 3}}', {}) == "bc"


def test_inspect_template_that_does_not_parse(dy: Runner, busybox: str) -> None:
    """docker/cli's inspect.Inspect: a template that does not parse is its message and
    exit 64 (StatusError), before anything is looked up."""
    for args in (("inspect", busybox), ("image", "inspect", busybox), ("inspect", "nosuch")):
        p = dy(*args[:-1], "-f", "{{.Nope", args[-1])
        assert (p.returncode, p.stdout, p.stderr) == (
            64,
            "",
            "template parsing error: template: :1: unclosed action\n",
        )
