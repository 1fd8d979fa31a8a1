"""The house keeps its plan: parameters declared once, no import cycles, a CLI that starts without
torch, and a README and documentation whose every name and option works as written."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aelab
from aelab import params
from aelab.errors import AelabError, DataError, ParameterError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: the README and the documentation site's pages: every name, command and option in them must work
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("name", ["AutoEncoder", "ConvAutoEncoder", "Classifier"])
def test_estimator_signatures_follow_the_parameter_table(name):
    cls = getattr(aelab, name)
    signature = inspect.signature(cls.__init__).parameters
    table = params.AUTOENCODER_PARAMS if name != "Classifier" else params.TRAINING_PARAMS
    overrides = getattr(cls, "DEFAULT_OVERRIDES", {})
    # the table's parameters come last, in the table's order, with the table's defaults
    assert list(signature)[-len(table) :] == [p.name for p in table]
    for p in table:
        assert signature[p.name].default == overrides.get(p.name, p.default), p.name
        assert p.name in cls.__doc__, f"{name}'s docs lack {p.name}"


def test_cli_defaults_are_the_estimators_defaults():
    from aelab.cli import build_parser

    document = aelab.DocumentModel().get_params()
    assert {k: document[k] for k in params.DOCUMENT_DEFAULTS} == params.DOCUMENT_DEFAULTS
    text_train = build_parser().parse_args(["text", "train", "--data", "d", "--out", "o"])
    assert (text_train.epochs, text_train.hidden) == (params.DOCUMENT_DEFAULTS["epochs"], (1000, 500, 250))
    classify = build_parser().parse_args(["classify", "--data", "d", "--out", "o"])
    assert {k: getattr(classify, k) for k in params.CLASSIFIER_DEFAULTS} == params.CLASSIFIER_DEFAULTS
    train = build_parser().parse_args(["train", "--data", "d", "--out", "o"])
    ae = aelab.AutoEncoder().get_params()
    for p in params.AUTOENCODER_PARAMS:
        expected = ae[p.name] if p.cli_default is ... else p.cli_default
        assert getattr(train, p.name) == expected, p.name
    assert train.hidden == ae["hidden_layer_sizes"] and train.channels == aelab.ConvAutoEncoder().channels
    assert train.unpooling == aelab.ConvAutoEncoder().unpooling


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: aelab.AutoEncoder(activation="swish"), "activation must be one of"),
        (lambda: aelab.AutoEncoder(epochs=0), "epochs must be a whole number >= 1"),
        (lambda: aelab.AutoEncoder(weight_decay=-1.0), "weight_decay must be a number >= 0"),
        (lambda: aelab.ConvAutoEncoder(lr_schedule="step"), "lr_schedule must be one of"),
        (lambda: aelab.Classifier(validation_fraction=1.5), "validation_fraction must be a number in"),
        (lambda: aelab.AutoEncoder(denoise="blur:1"), "denoise must be KIND:LEVEL"),
    ],
)
def test_parameter_mistakes_raise_a_parameter_error(make, message):
    X = aelab.datasets.load("digits").train.X[:64]
    with pytest.raises(ParameterError, match=message) as caught:
        make().fit(X, [0, 1] * 32) if isinstance(make(), aelab.Classifier) else make().fit(X)
    assert isinstance(caught.value, AelabError) and isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, DataError)


def test_help_answers_without_importing_torch():
    code = (
        "import sys, aelab.cli\naelab.cli.build_parser().format_help()\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'numpy', 'faiss') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_no_import_cycles_inside_aelab():
    import grimp

    graph = grimp.build_graph("aelab")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.find_shortest_chain(importer=imported, imported=module):
                cycles.append(f"{module} <-> {imported}")
    # a package's __init__ re-exports its own modules, which import each other's siblings:
    # those are not cycles between ideas
    cycles = [c for c in cycles if not _is_package_reexport(c)]
    assert cycles == []


def test_no_module_imports_a_private_name_from_another():
    """A name with a leading underscore is its module's own business: another module that needs it
    gets a public name, so that the module can change it without breaking a stranger."""
    import ast

    crossings = []
    for path in sorted((ROOT / "src" / "aelab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("aelab")):
                crossings += [
                    f"{path.relative_to(ROOT)}: {alias.name} from {'.' * node.level}{node.module or ''}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert crossings == []


def _is_package_reexport(cycle: str) -> bool:
    a, b = cycle.split(" <-> ")
    return a.startswith(b + ".") or b.startswith(a + ".")


# --- the README and the documentation work as written -----------------------------------------------


def _documents() -> str:
    return "\n".join(path.read_text() for path in DOCUMENTS)


def _code_blocks(language: str, text: str | None = None) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _documents() if text is None else text, flags=re.S)


def test_every_python_name_in_the_documentation_exists_after_import_aelab():
    text = _documents()
    dotted = sorted(set(re.findall(r"\baelab(?:\.[A-Za-z_]\w*)+", text)) - {"aelab.checkpoint"})
    imports = [
        line.strip()
        for block in _code_blocks("python")
        for line in block.splitlines()
        if re.match(r"\s*(from aelab|import aelab)", line)
    ]
    code = "import aelab\n" + "".join(f"assert {name}, {name!r}\n" for name in dotted if "(" not in name)
    code += "".join(f"{line}\n" for line in imports)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-800:]
    assert "aelab.search.Index.build" in dotted and "aelab.report.generated_figure" in dotted


def test_every_command_and_option_in_the_documentation_exists():
    from aelab.cli import build_parser

    parser = build_parser()
    commands = {}
    for action in parser._subparsers._group_actions:
        commands.update(action.choices)
    lines = [line.strip() for block in _code_blocks("sh") for line in block.splitlines()]
    lines = [line for line in lines if line.startswith("aelab ")]
    assert len(lines) > 15
    for line in lines:
        words = line.split("#")[0].split()
        sub = commands[words[1]]
        if words[1] == "text":
            sub = next(a for a in sub._subparsers._group_actions).choices[words[2]]
        known = {opt for action in sub._actions for opt in action.option_strings}
        for word in words:
            for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", word.strip("[]|")):
                assert option in known, f"documentation: {line!r} uses {option}, which 'aelab {words[1]}' lacks"


@pytest.mark.slow
def test_the_readmes_first_example_runs_as_written(tmp_path):
    first = _code_blocks("python", README.read_text())[0]
    assert "../shared" not in first
    result = subprocess.run([sys.executable, "-c", first], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-800:]
    errors = [float(line) for line in result.stdout.split()[-2:]]
    assert errors[0] < errors[1]  # the auto-encoder beside PCA with the same code size
    assert (tmp_path / "digits-ae" / "config.json").exists()


@pytest.mark.parametrize("name", ["AutoEncoder", "ConvAutoEncoder", "Classifier", "PCA", "LSA", "DocumentModel"])
def test_the_models_page_lists_every_constructor_argument_with_its_default(name):
    arguments = inspect.signature(getattr(aelab, name).__init__).parameters.values()
    line = f"- `{name}(" + ", ".join(f"{p.name}={p.default!r}" for p in arguments if p.name != "self") + ")`"
    assert line in (ROOT / "docs" / "models.md").read_text()


def test_the_models_page_quotes_the_auto_training_constants_as_they_are():
    """The parameter table and the "auto" rules restate these constants in words; a changed default
    once left the README a step count behind."""
    page = (ROOT / "docs" / "models.md").read_text()
    text = " ".join(page.split())  # a sentence may wrap anywhere
    binary_row = next(line for line in page.splitlines() if line.startswith("| `--binary BITS`"))
    masked = round(100 * float(params.AUTO_BINARY_DENOISE.split(":")[1]))
    assert f"inputs are {masked}% masked" in binary_row
    assert f"trains {params.AUTO_BINARY_STEPS:,} optimizer steps" in binary_row
    assert f"epochs: {params.AUTO_EPOCHS}, or more" in text
    assert f"until training takes {params.AUTO_STEPS:,} optimizer steps" in text
    assert f"a binary code trains {params.AUTO_BINARY_STEPS:,} steps" in text


def test_the_command_reference_names_every_command_and_option():
    """The site's commands page is made from the parser; a command or option it left out would be
    missing from the documentation without anyone noticing."""
    from aelab.cli import build_parser
    from aelab.cli.reference import markdown

    parser = build_parser()
    page = markdown(parser)
    text = next(a for a in parser._subparsers._group_actions).choices["text"]
    commands = {
        f"aelab {name}": sub for name, sub in next(a for a in parser._subparsers._group_actions).choices.items()
    }
    commands.update({f"aelab text {name}": sub for name, sub in text._subparsers._group_actions[0].choices.items()})
    del commands["aelab text"]
    headings = re.findall(r"^## `(aelab[^`]*)`$", page, flags=re.M)
    assert sorted(headings) == sorted(commands)
    for name, sub in commands.items():
        section = page.split(f"## `{name}`\n", 1)[1].split("\n## `", 1)[0]
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section, f"{name}: {option} is not in the command reference"
