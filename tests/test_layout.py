"""The layout of src/ (README, "Scripts and layout"): every module imports only from its own layer or the layers
below it, so the packages can be read bottom-up."""
import ast
import os
from typing import Dict, List

from tests.helpers import ROOT

#: Layers from the bottom up; a module may import from its own layer and those before it.
LAYERS: List[List[str]] = [
    ["src.errors", "src.constants"],
    ["src.utils"],
    ["src.model_utils"],
    ["src.data", "src.predict"],
    ["src.evaluate"],
    ["src.dataset_types"],
    ["src.dataset"],
    ["src.network", "src.model", "src.network_define"],
    ["src.training"],
    ["src.quantize"],
    ["src.inference"],
    ["src.deploy"],
    ["src.tracking"],
    ["src.synth"],
    ["src.synthetic", "src.synthetic_video", "src.convert", "src.plot_loss", "src.visualize"],
]


def _layer_of(module: str) -> int:
    for level, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names):
            return level
    raise AssertionError(f"{module} is in no layer of LAYERS: give it one (and a line in the README's layout)")


def _src_modules() -> Dict[str, str]:
    found = {}
    for folder, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[module[:-len(".__init__")] if module.endswith(".__init__") else module] = path
    return found


def _imports(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [name for name in names if name.startswith("src.")]


def test_every_module_imports_only_its_own_layer_and_those_below():
    modules = _src_modules()
    upward = []
    for module, path in sorted(modules.items()):
        if module == "src":
            continue
        level = _layer_of(module)
        for name in _imports(path):
            target = name if name in modules else name.rsplit(".", 1)[0]
            if target in modules and target != "src" and _layer_of(target) > level:
                upward.append(f"{module} imports {target}")
    assert not upward, upward


def test_the_layers_cover_every_package_and_top_level_module():
    for module in _src_modules():
        if module != "src":
            _layer_of(module)


def test_the_benches_run_as_modules_on_src_alone():
    """bench/ is run as ``python -m bench.<name>`` from the repository root: no ``sys.path`` edits to find the
    project, and it imports neither the entry scripts nor the tests (what they share lives in src/ or bench/).
    (``bench/speed.py --torch_path`` appends another environment's site-packages, after this one's, to find an
    optional PyTorch: not the project.)"""
    entry_scripts = {name[:-3] for name in os.listdir(ROOT) if name.endswith(".py")}
    problems = []
    for name in sorted(os.listdir(os.path.join(ROOT, "bench"))):
        if not name.endswith(".py"):
            continue
        path = os.path.join(ROOT, "bench", name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        tree = ast.parse(text)
        for node in ast.walk(tree):
            modules = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                       else [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for module in modules:
                top = module.split(".")[0]
                if top == "tests" or top in entry_scripts:
                    problems.append(f"bench/{name} imports {module}")
        if "sys.path.insert" in text:
            problems.append(f"bench/{name} edits sys.path")
    assert not problems, problems
