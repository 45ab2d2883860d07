"""What a person reads never shows Python internals, and error files count what they list.

Runs the user-facing paths (parse-sage on every refused sample in samples/sage/broken/, the
watched folder, ack, status and trace) and checks their stderr, stdout and `.error.txt` files
for reprs such as `Problem(line=2, ...)`, `Decimal('1.00')` or `RecordKey(...)`, and that the
number of problems an error file (and the command's message) announces is the number it lists.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sagesync.errors import ExitCode

BROKEN = Path(__file__).resolve().parent.parent / "samples" / "sage" / "broken"
REFUSED = {  # file: (product, kind), per samples/sage/README.md
    "scientific_sku.csv": ("sage200", "stock"),
    "decimal_comma.csv": ("sagex3", "stock"),
    "thousands_separator.csv": ("sage200", "stock"),
    "thousands_unquoted.csv": ("sage200", "stock"),
    "negative_quantity.csv": ("sage300", "stock"),
    "non_numeric.csv": ("sage200", "prices"),
    "duplicate_rows.csv": ("sage100", "stock"),
    "missing_column.csv": ("sage200", "stock"),
    "empty.csv": ("sage200", "stock"),
    "header_only.csv": ("intacct", "stock"),
    "binary_junk.csv": ("sage200", "stock"),
    "excel_workbook.csv": ("sage200", "stock"),
    "short_row.csv": ("sage200", "stock"),
    "cut_off.csv": ("sage200", "stock"),
    "invisible_sku.csv": ("sage200", "stock"),
}
# `Name(` directly followed by `field=`, a quote or a digit: a dataclass, Decimal, date, ...
REPR = re.compile(r"\b(?:[A-Z]\w*|datetime\.\w+)\((?:\w+=|['\"\d])")
COUNT = re.compile(r"(\d+) problems?\b")
MORE = re.compile(r"\.\.\. and (\d+) more problems?\b")


def assert_no_repr(text: str) -> None:
    found = REPR.search(text)
    assert found is None, f"a Python repr reached a person: ...{text[found.start():][:120]}"


def announced_and_listed(report: str) -> tuple[list[int], int]:
    """The counts an error file announces, and how many problems it lists (the indented
    lines under its `N problems:` line, plus any `... and K more`)."""
    lines = report.splitlines()
    announced = [int(n) for line in lines if not MORE.search(line) for n in COUNT.findall(line)]
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"\d+ problems?:", line))
    listed = 0
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        more = MORE.search(line)
        listed += int(more.group(1)) if more else 1
    return announced, listed


def assert_counts_agree(report: str) -> int:
    announced, listed = announced_and_listed(report)
    assert announced == [listed], f"announced {announced}, listed {listed}:\n{report}"
    return listed


def stock_recipe(folder: Path, product: str) -> Path:
    recipe = folder / f"{product}.toml"
    recipe.write_text(f"""name = "messages"
state_dir = "state"
[magento]
base_url = "http://127.0.0.1:9/rest/default"
token = "never-used"
[sage]
product = "sage50_uk"
[sage_export]
product = "{product}"
""", encoding="utf-8")
    return recipe


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_parse_sage_on_a_broken_export_speaks_plainly_and_counts_right(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, name: str) -> None:
    product, kind = REFUSED[name]
    recipe = stock_recipe(tmp_path, product)
    result = run_cli("-r", str(recipe), "parse-sage", str(BROKEN / name), "--kind", kind)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert_no_repr(result.output)
    reports = list((tmp_path / "state" / "quarantine").rglob("*.error.txt"))
    assert len(reports) == 1
    report = reports[0].read_text(encoding="utf-8")
    assert_no_repr(report)
    listed = assert_counts_agree(report)
    said = [int(n) for n in COUNT.findall(result.stderr)]
    assert said == [listed], result.stderr


def test_the_watched_folder_speaks_plainly_and_counts_right(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    recipe = stock_recipe(tmp_path, "sage200")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(BROKEN / "non_numeric.csv", inbox / "prices-monday.csv")
    shutil.copy(BROKEN / "thousands_separator.csv", inbox / "stock-monday.csv")
    (inbox / "notes.csv").write_text("what is this\r\n", encoding="utf-8")
    result = run_cli("-r", str(recipe), "watch", str(inbox), "--once", "--settle", "0")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert_no_repr(result.output)
    reports = sorted((inbox / "quarantine").glob("*.error.txt"))
    assert [p.name for p in reports] == ["prices-monday.csv.error.txt",
                                         "stock-monday.csv.error.txt"]
    assert (inbox / "notes.csv").is_file()  # not a Sage export by its name: left alone
    for path in [*reports, *(tmp_path / "state" / "quarantine").rglob("*.error.txt")]:
        report = path.read_text(encoding="utf-8")
        assert_no_repr(report)
        assert_counts_agree(report)


def test_ack_status_and_trace_speak_plainly_and_count_right(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    with demo_copy.open("a", encoding="utf-8") as handle:
        handle.write('\n[ack]\nstatus_column = "Status"\nerror_column = "Error"\n')
    state = tmp_path / "s"
    cli = ("--state-dir", str(state), "-r", str(demo_copy))
    assert run_cli(*cli, "run", str(demo_copy), "--out", str(tmp_path / "o")).exit_code == 0
    answers = tmp_path / "answers.csv"
    answers.write_text("Type,Reference,Transaction Number,Status,Error\r\n"
                       "SI,000000002,101,OK,\r\nSI,000000003,,OK,\r\n"
                       "SI,000000004,104,OK,\r\nSI,000000004,104,Failed,Bad nominal\r\n"
                       "SI,000000005,,Failed,Account on hold\r\nSI,999999999,1,OK,\r\n",
                       encoding="utf-8")
    outputs = [run_cli(*cli, "ack", str(answers))]
    assert outputs[0].exit_code == ExitCode.HELD, outputs[0].output
    broken = tmp_path / "broken.csv"
    broken.write_text("Type,Reference,Transaction Number,Status,Error\r\n"
                      "SI,,1,OK,\r\nSI,000000006\r\nSI,,2,OK,\r\n", encoding="utf-8")
    outputs.append(run_cli(*cli, "ack", str(broken)))
    assert outputs[1].exit_code == ExitCode.BAD_INPUT
    outputs += [run_cli(*cli, "status"), run_cli(*cli, "status", "--json"),
                run_cli(*cli, "trace", "000000004"), run_cli(*cli, "trace", "000000002")]
    for result in outputs:
        assert_no_repr(result.output)
    report = next((state / "quarantine").rglob("broken.csv.error.txt")).read_text("utf-8")
    assert_no_repr(report)
    assert assert_counts_agree(report) == 3
    assert [int(n) for n in COUNT.findall(outputs[1].stderr)] == [3]
