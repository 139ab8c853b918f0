"""Structural fingerprints of kernel sources.

Two kernels share a fingerprint when their Python ASTs are equal once identifiers (names of
variables, arguments, functions, structs, fields) are renamed in order of first appearance and
literal constants are blanked. Warp builtins (``wp.<name>``) and types stay: they are structure.
"""
from __future__ import annotations

import ast
import hashlib


class _Normalizer(ast.NodeTransformer):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name == "wp":
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._rename(node.arg)
        self.generic_visit(node)
        return node

    def _visit_definition(self, node: ast.FunctionDef | ast.ClassDef) -> ast.AST:
        node.name = self._rename(node.name)
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_ClassDef = _visit_definition

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if not (isinstance(node.value, ast.Name) and node.value.id == "wp"):
            node.attr = self._rename(node.attr)  # struct fields; wp.<builtin> stays as is
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        kind = type(node.value).__name__
        return ast.copy_location(ast.Constant(value=kind), node)


def normalized_ast(source: str) -> str:
    tree = _Normalizer().visit(ast.parse(source))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def fingerprint(source: str) -> str:
    """16 hex digits identifying the kernel's structure (see module docstring)."""
    return hashlib.sha256(normalized_ast(source).encode()).hexdigest()[:16]


def split_of(fp: str, test_share: int = 50) -> str:
    """``test`` for about 1 in ``test_share`` structures, else ``train``: by fingerprint, so a
    structure never appears in both splits."""
    return "test" if int(fp, 16) % test_share == 0 else "train"
