"""The shape of pax/: no import circle, no long module, no block written twice.

Pure Python over the source text (`ast`); nothing of pax is imported.
"""

import ast
from collections import defaultdict, deque
from pathlib import Path

PAX = Path(__file__).resolve().parents[2] / "pax"
MAX_LINES = 400
BLOCK = 6
"""Lines in a row that make a repeated block."""


def module_files(root: Path = PAX) -> dict[str, Path]:
    """Dotted name -> file of every module below root (a package is its __init__)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def under_type_checking(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    if not isinstance(node, ast.If):
        return False
    return getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"


def import_nodes(node: ast.AST):
    """Every import in node, at any depth, except those only for type checkers."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
        return
    children = node.orelse if under_type_checking(node) else ast.iter_child_nodes(node)
    for child in children:
        yield from import_nodes(child)


def imports_of(name: str, modules: dict[str, Path]) -> set[str]:
    """The modules (of `modules`) that module `name` imports."""

    def resolve(target: str) -> str | None:  # pax.a.b.func -> pax.a.b
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    path = modules[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from . / .. / .x import y
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                for a in node.names
            ]
        out |= {m for t in targets if (m := resolve(t)) and m != name}
    return out


def shortest_circle(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """start -> ... -> start by the fewest imports, or None."""
    came_from = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node]):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return None


def import_circles(root: Path = PAX) -> list[list[str]]:
    """One shortest circle through each module on one, each circle once."""
    modules = module_files(root)
    graph = {name: imports_of(name, modules) for name in modules}
    circles = {}
    for name in sorted(graph):
        if circle := shortest_circle(graph, name):
            circles.setdefault(frozenset(circle), circle)
    return list(circles.values())


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "pax"


def test_the_import_graph_sees_every_kind_of_import(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "pax/__init__.py": "",
            "pax/a.py": "import os\nimport pax.b\n",
            "pax/b.py": "def f():\n    from pax.sub import c\n",
            "pax/sub/__init__.py": "from .c import C\n",
            "pax/sub/c.py": "from .. import d\nC = 1\n",
            "pax/d.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pax.a import x\n"
                "else:\n    from pax.sub import C\n"
            ),
        },
    )
    modules = module_files(root)
    assert imports_of("pax.a", modules) == {"pax.b"}
    assert imports_of("pax.b", modules) == {"pax.sub.c"}  # inside a function
    assert imports_of("pax.sub", modules) == {"pax.sub.c"}  # relative
    assert imports_of("pax.sub.c", modules) == {"pax.d"}  # from .. import module
    assert imports_of("pax.d", modules) == {"pax.sub"}  # a name of the package
    # pax.sub's __init__ is a node of its own: the circle runs through it
    assert import_circles(root) == [["pax.d", "pax.sub", "pax.sub.c", "pax.d"]]


def test_no_import_circle():
    circles = import_circles()
    assert not circles, "import circles in pax/:\n" + "\n".join(
        " -> ".join(c) for c in circles
    )


def test_no_module_over_400_lines():
    counts = {
        str(path.relative_to(PAX.parent)): len(path.read_text().splitlines())
        for path in module_files().values()
    }
    long = {path: n for path, n in counts.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: " + ", ".join(
        f"{path} ({n})" for path, n in sorted(long.items())
    )


def shape_lines(tree: ast.Module) -> set[int]:
    """Lines of imports, annotated fields (`name: type = value`) and docstrings."""
    out = set()
    for node in ast.walk(tree):
        docstring = isinstance(node, ast.Expr) and isinstance(
            getattr(node.value, "value", None), str
        )
        if docstring or isinstance(node, ast.Import | ast.ImportFrom | ast.AnnAssign):
            out.update(range(node.lineno, node.end_lineno + 1))
    return out


def code_lines(path: Path) -> list[tuple[int, str, bool]]:
    """(line number, text without indent, is a shape line) of the lines of code."""
    text = path.read_text()
    shapes = shape_lines(ast.parse(text))
    return [
        (number, line.strip(), number in shapes)
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#")
    ]


def repeated_blocks(root: Path = PAX) -> list[str]:
    """'a.py:10-17 ~ b.py:40-47' for each run of BLOCK+ lines two modules share.

    Blocks made only of imports, annotated fields and docstrings do not count.
    """
    lines = {
        str(path.relative_to(root.parent)): code_lines(path)
        for path in module_files(root).values()
    }
    places = defaultdict(list)  # block text -> [(file, index of its first line)]
    for name, code in lines.items():
        for i in range(len(code) - BLOCK + 1):
            block = code[i : i + BLOCK]
            if not all(shape for _, _, shape in block):
                places["\n".join(text for _, text, _ in block)].append((name, i))
    starts = defaultdict(set)  # (file a, file b) -> {(index in a, index in b)}
    for spots in places.values():
        for a, i in spots:
            for b, j in spots:
                if a < b:
                    starts[a, b].add((i, j))
    out = []
    for (a, b), pairs in sorted(starts.items()):
        for i, j in sorted(pairs):
            if (i - 1, j - 1) in pairs:
                continue  # inside a run that starts earlier
            n = BLOCK  # lines in this run
            while (i + n - BLOCK + 1, j + n - BLOCK + 1) in pairs:
                n += 1
            out.append(
                f"{a}:{lines[a][i][0]}-{lines[a][i + n - 1][0]} ~ "
                f"{b}:{lines[b][j][0]}-{lines[b][j + n - 1][0]}"
            )
    return out


def test_repeated_blocks_are_found_beyond_config_shapes(tmp_path):
    code = "".join(f"    x{k} = f(x{k - 1})\n" for k in range(1, 8))
    fields = "".join(f'    n{k}: int = {k}\n    """Count {k}."""\n' for k in range(7))
    imports = "".join(f"import m{k}\n" for k in range(7))
    root = write_tree(
        tmp_path,
        {
            "pax/a.py": f"{imports}\nclass A:\n{fields}\ndef g(x0):\n{code}",
            "pax/b.py": f"{imports}\nclass B:\n{fields}\n\ndef h(x0):\n    # hm\n{code}",
        },
    )
    assert repeated_blocks(root) == ["pax/a.py:26-32 ~ pax/b.py:28-34"]


def test_no_block_repeated_across_modules():
    repeated = repeated_blocks()
    assert not repeated, (
        f"blocks of {BLOCK}+ lines written twice in pax/:\n" + "\n".join(repeated)
    )
