"""Checks that ARCHITECTURE.md names only what exists, so the map cannot drift from the code.

Every name in backticks, and the first word of each line of its code blocks, is looked up:

- a path (`tests/support/lambda.rs`, `src/core/tests.rs`, `handler/mod.rs`, `catalog.rs`): a
  file or folder at that path from the repository's root, from a crate's folder or its `src/`,
  or (a bare file name) anywhere in the tree;
- a Rust path (`core::plan_waves`, `shared::aws::put_object`, `Fleet::aws_for`): its modules
  are files or folders (`aws` is an `aws.rs` or an `aws/`), and the items after them are
  defined in those modules' files (a `fn`, type, constant, module, macro or enum variant);
- a single Rust-like name (`Deps`, `record_complete`) or a setting (`PHOTOS_TABLE`): a word
  of some source file or of the template.

Names with spaces (commands, sentences) and patterns (`<f>`, `*`) are left alone.

    python scripts/check_architecture.py [--self-test]
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = re.compile(
    r"\b(?:fn|struct|enum|trait|type|const|static|mod|union)\s+([A-Za-z_]\w*)|macro_rules!\s*([A-Za-z_]\w*)"
)
# An enum variant at the start of a line: `    Retry,` `    Table { ... }` `    Written = 1,`.
MEMBER = re.compile(r"^\s+([A-Z]\w*)\s*(?:[,({=]|$)", re.MULTILINE)
RUST_PATH = re.compile(r"^[A-Za-z_]\w*(?:::[A-Za-z_]\w*)+$")
WORD = re.compile(r"^[A-Za-z_]\w*$")
EXTENSIONS = {".rs", ".py", ".yaml", ".yml", ".toml", ".md", ".json", ".js", ".txt", ".icc", ".sh"}


def tracked_files(root: Path) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [root / name for name in listed if name and (root / name).is_file()]


class Tree:
    """What the repository holds, read once."""

    def __init__(self, root: Path):
        self.root = root
        self.files = tracked_files(root)
        self.rust = {path: path.read_text(encoding="utf-8", errors="replace") for path in self.files if path.suffix == ".rs"}
        self.crates = [path.parent for path in self.files if path.name == "Cargo.toml" and path.parent != root]
        self.crate_names = {"shared", "std", "lambda_runtime", "aws_lambda_events", "serde_json", "tokio"}
        for manifest in self.crates:
            found = re.search(r'^name\s*=\s*"([^"]+)"', (manifest / "Cargo.toml").read_text(), re.MULTILINE)
            if found:
                self.crate_names.add(found.group(1).replace("-", "_"))
        self.names = {path.name for path in self.files}
        self.words = set()
        for path in self.files:
            if path == Path(__file__).resolve():
                continue  # its self-test names what must not exist
            if path.suffix in {".rs", ".py", ".yaml", ".toml", ".js"} or path.name == "Makefile":
                self.words.update(re.findall(r"[A-Za-z_][\w\-]*", path.read_text(encoding="utf-8", errors="replace")))
        self.defined = {path: defined_in(text) for path, text in self.rust.items()}

    def path_exists(self, name: str) -> bool:
        relative = name.rstrip("/")
        if (self.root / relative).exists():
            return True
        if any((crate / relative).exists() or (crate / "src" / relative).exists() for crate in self.crates):
            return True
        return "/" not in relative and relative in self.names

    def rust_path_exists(self, name: str) -> bool:
        segments = name.split("::")
        while segments and segments[0] in self.crate_names and len(segments) > 1:
            segments = segments[1:]
        modules: list[str] = []
        while len(segments) > 1 and self.is_module(modules + [segments[0]]):
            modules.append(segments.pop(0))
        files = [path for path in self.rust if in_module(path, self.root, modules)] if modules else list(self.rust)
        if not files:
            return False
        defined = set().union(*(self.defined[path] for path in files))
        return all(segment in defined for segment in segments)

    def is_module(self, chain: list[str]) -> bool:
        return any(in_module(path, self.root, chain) for path in self.rust)


def defined_in(text: str) -> set[str]:
    names = {a or b for a, b in DEFINITION.findall(text)}
    names.update(MEMBER.findall(text))
    return names


def in_module(path: Path, root: Path, chain: list[str]) -> bool:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return any(parts[i : i + len(chain)] == chain for i in range(len(parts) - len(chain) + 1))


def names_in(markdown: str) -> list[str]:
    """Inline code spans outside code blocks, and the first word of each code block line."""
    names, in_block = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            first = line.split()[0] if line.split() else ""
            if first and ("/" in first or Path(first).suffix in EXTENSIONS):
                names.append(first)
            continue
        names.extend(re.findall(r"`([^`]+)`", line))
    return names


def problems(tree: Tree, markdown: str) -> list[str]:
    found = []
    for raw in names_in(markdown):
        name = re.sub(r"(\(\)|!\(.*\))$", "", raw.strip())
        if not name or " " in name or any(c in name for c in "<>*=\"…") or name.startswith(("/", "-", ".")):
            continue
        if RUST_PATH.match(name):
            if not tree.rust_path_exists(name):
                found.append(f"`{raw}`: no such item in the code (its modules' files do not define it)")
        elif "/" in name or Path(name).suffix in EXTENSIONS:
            if not tree.path_exists(name):
                found.append(f"`{raw}`: no such file or folder")
        elif WORD.match(name) or re.match(r"^[A-Za-z][\w\-]*$", name):
            if name not in tree.words:
                found.append(f"`{raw}`: appears in no source file or template")
    return found


def self_test(tree: Tree) -> None:
    """Each kind of stale name is caught, and the real map's names pass."""
    for stale in ["`aws::put_nothing_here`", "`shared::aws::no_such_fn`", "`src/core/nowhere.rs`", "`NoSuchTypeAnywhere`",
                  "`core::plan_waves::not_here`", "`tests/support/gone.rs`", "`NO_SUCH_SETTING_ANYWHERE`"]:
        assert problems(tree, f"Names {stale} here."), f"the check missed {stale}"
    for fine in ["`core::plan_waves`", "`shared::aws::put_object`", "`Deps`", "`scripts/demo.py`", "`make test`"]:
        assert not problems(tree, f"Names {fine} here."), f"the check refused {fine}"
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "x.md").write_text("```\nno/such/folder/   what it is\n```\n")
        assert problems(tree, Path(scratch, "x.md").read_text()), "the check missed a code block path"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true", help="also check that stale names are caught")
    args = parser.parse_args()
    tree = Tree(ROOT)
    if args.self_test:
        self_test(tree)
    found = problems(tree, (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    for problem in found:
        print(f"ARCHITECTURE.md: {problem}", file=sys.stderr)
    if found:
        print(f"{len(found)} name(s) in ARCHITECTURE.md do not exist: correct the map or the code", file=sys.stderr)
        return 1
    print("ARCHITECTURE.md: every path and item it names exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
