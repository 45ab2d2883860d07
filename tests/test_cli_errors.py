"""A user's mistake gets one clear paragraph and the documented exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagesync.errors import ExitCode


def no_traceback(text: str) -> bool:
    return "Traceback" not in text and 'File "' not in text


def test_export_without_recipe_is_a_usage_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("export-orders")
    assert result.exit_code == ExitCode.USAGE
    assert "needs a recipe" in result.output and no_traceback(result.output)


def test_missing_recipe_key_names_key_and_file(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recipe = tmp_path / "r.toml"
    recipe.write_text('name = "x"\n[magento]\nsource = "m"\n[sage]\nproduct = "sage50_uk"\n')
    result = run_cli("export-orders", "-r", str(recipe))
    assert result.exit_code == ExitCode.USAGE
    assert "missing key 'state_dir'" in result.output and str(recipe) in result.output
    assert no_traceback(result.output)


def test_unreadable_source_folder(run_cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--state-dir", str(tmp_path / "s"), "export-orders", "-r", str(demo_copy),
                     "--source", str(tmp_path / "nowhere"))
    assert result.exit_code == ExitCode.USAGE
    assert "source folder not found" in result.output and no_traceback(result.output)


@pytest.mark.parametrize("make_from", ["missing", "not-a-manifest", "wrong-kind"])
def test_bad_from_is_a_usage_error(run_cli, demo_copy: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                   make_from: str) -> None:
    if make_from == "missing":
        target = tmp_path / "runs" / "x" / "manifest.json"
    elif make_from == "not-a-manifest":
        target = tmp_path / "junk.json"
        target.write_text("{not json")
    else:
        exported = run_cli("--state-dir", str(tmp_path / "s"), "export-orders", "-r",
                           str(demo_copy))
        target = Path(exported.stdout.strip())
    command = "import-sage" if make_from == "wrong-kind" else "transform"
    result = run_cli(command, "--from", str(target))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert no_traceback(result.output)
    assert result.stdout == ""


def test_unknown_option_is_click_usage_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("transform", "--frm", "x")
    assert result.exit_code == ExitCode.USAGE
    assert "No such option" in result.output


def test_broken_page_is_quarantined_and_the_rest_goes_on(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    page = demo_copy.parent.parent / "samples" / "magento" / "invoices" / "page-0002.json"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace('"items": [', '"items": [,', 1), encoding="utf-8")
    state = tmp_path / "s"
    result = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "page-0002.json" in result.output and "line " in result.output
    errors = list((state / "quarantine").rglob("*.error.txt"))
    assert len(errors) == 1
    report = errors[0].read_text()
    assert "line 2, column" in report or "line " in report
    assert "Expected: a Magento invoices search result" in report
    manifest = json.loads(Path(result.stdout.strip()).read_text())
    assert manifest["tables"]["invoices"]["rows"] > 0  # the good page went on
    assert page.read_text(encoding="utf-8") != text  # the user's file is left where it was


def test_internal_error_is_short_and_logged(run_cli, demo_copy: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import sagesync.pipeline.export_step as export_step  # the command imports it when it runs

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(export_step, "export_orders", boom)
    state = tmp_path / "s"
    result = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    assert result.exit_code == ExitCode.BUG
    assert "internal error" in result.output and no_traceback(result.output)
    logs = list((state / "logs").glob("crash-*.txt"))
    assert logs and "ZeroDivisionError" in logs[0].read_text()
