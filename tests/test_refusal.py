"""The refusal message builder: the form every refusal of a config, data file or job takes."""

from pathlib import Path

from mlpsweep.refusal import place, refusal, suggest


def test_a_refusal_names_where_the_key_the_problem_and_the_fix():
    message = refusal("sweep.yaml", "value 0 is out of range", "give a value > 0", key="training.epochs")
    assert message == "sweep.yaml: key 'training.epochs': value 0 is out of range. Fix: give a value > 0"


def test_without_a_key_or_a_file_those_parts_are_left_out():
    assert refusal("data.csv", "not found", "check the path") == "data.csv: not found. Fix: check the path"
    assert refusal(Path("results/x"), "holds no model", "export it") == "results/x: holds no model. Fix: export it"
    assert refusal(None, "key 'summary.x': unknown", "remove it") == "key 'summary.x': unknown. Fix: remove it"
    assert refusal("", "bad", "fix it", key="") == "bad. Fix: fix it"


def test_the_fix_may_start_a_line_of_its_own():
    assert (
        refusal(None, "Not complete models: a, b", "export them", fix_on_own_line=True)
        == "Not complete models: a, b.\nFix: export them"
    )


def test_place_puts_a_file_and_key_before_a_message_that_has_its_fix():
    inner = refusal("data.csv", "not found", "check the path")
    assert (
        place("sweep.yaml", inner, key="datasets.mine")
        == "sweep.yaml: key 'datasets.mine': data.csv: not found. Fix: check the path"
    )
    assert place("sweep.yaml", inner) == f"sweep.yaml: {inner}"


def test_suggest_names_the_closest_choice_or_nothing():
    assert suggest("lerning_rate", ["learning_rate", "epochs"]) == " (did you mean 'learning_rate'?)"
    assert suggest("zzz", ["learning_rate", "epochs"]) == ""
    assert suggest(0.1, [None, "0.01", 5]) == " (did you mean '0.01'?)"


def test_the_builder_imports_only_the_standard_library():
    """config.py imports it at planning, and scripts/venv_build.py before any venv exists."""
    import ast

    import mlpsweep.refusal as module

    tree = ast.parse(Path(module.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names <= {"__future__", "difflib"}
