"""The benchmarks run outside the suite (``make bench``, and the soak alone), and most import
lazily inside ``main``: a name moved between our modules broke ``bench.soak`` at start without
any test noticing. Every import statement of ``bench/`` that names our packages, wherever it
sits in its file, must resolve."""
import ast
import importlib
import os

from .helpers import ROOT


OURS = ("rayactors", "drivers", "serve_app", "bench")


def _our_imports():
    bench = os.path.join(ROOT, "bench")
    for name in sorted(os.listdir(bench)):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(bench, name)).read(), name)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in OURS:
                for alias in node.names:
                    yield f"bench/{name}:{node.lineno}", node.module, alias.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in OURS:
                        yield f"bench/{name}:{node.lineno}", alias.name, None


def test_every_bench_import_resolves():
    found, unresolved = list(_our_imports()), []
    assert len({where.split(":")[0] for where, _, _ in found}) >= 10    # the scan sees the benches
    for where, module, name in found:
        try:
            mod = importlib.import_module(module)
            if name is not None and name != "*" and not hasattr(mod, name):
                importlib.import_module(f"{module}.{name}")    # a submodule, or ImportError
        except ImportError as exc:
            unresolved.append(f"{where}: {module} {name or ''}: {exc}")
    assert not unresolved, "\n".join(unresolved)
