"""The structural fingerprint and the size estimate are computed in one read-only pass over a
shared parse, for speed. They must equal the plain definitions: a NodeTransformer that renames
identifiers and blanks constants, then ``ast.dump``; operations counted with ``ast.walk``."""
import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from warp_ir_dataset.families import _budget
from warp_ir_dataset.fingerprint import fingerprint, normalized_ast
from warp_ir_dataset.generate import generate_kernel


class ReferenceNormalizer(ast.NodeTransformer):
    def __init__(self):
        self.names = {}

    def rename(self, name):
        return name if name == "wp" else self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        node.id = self.rename(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.rename(node.arg)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.rename(node.name)
        self.generic_visit(node)
        return node

    visit_ClassDef = visit_FunctionDef

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if not (isinstance(node.value, ast.Name) and node.value.id == "wp"):
            node.attr = self.rename(node.attr)
        return node

    def visit_Constant(self, node):
        return ast.copy_location(ast.Constant(value=type(node.value).__name__), node)


def reference_normalized(source):
    return ast.dump(ReferenceNormalizer().visit(ast.parse(source)), annotate_fields=False)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_fast_normalization_equals_the_reference_on_generated_kernels(seed):
    source = generate_kernel(seed).python_source
    assert normalized_ast(source) == reference_normalized(source)
    assert normalized_ast(source) == reference_normalized(source)  # the shared parse is not mutated


def test_normalization_edge_cases_equal_the_reference():
    source = (
        "import warp as wp\n"
        "@wp.struct\nclass S:\n    a: wp.vec3\n\n"
        "@wp.func\ndef f(s: S, k: int = 2, *rest, t=None, **kw) -> float:\n"
        "    return s.a[0] * wp.float32(k) if k else -1.5\n\n"
        "@wp.kernel\ndef k(x: wp.array(dtype=float), s: S):\n"
        "    i = wp.tid()\n    x[i:] = f(s, k=3, t=b'1')\n    y = x[::2]\n"
    )
    assert normalized_ast(source) == reference_normalized(source)


def test_renaming_and_constants_do_not_change_the_fingerprint_but_structure_does():
    a = "import warp as wp\n@wp.kernel\ndef k(x: wp.array(dtype=float)):\n    i = wp.tid()\n    x[i] = wp.sin(x[i]) * 2.0\n"
    b = a.replace("x", "values").replace("2.0", "7.5").replace("def k", "def other")
    c = a.replace("wp.sin", "wp.cos")
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_operation_count_and_heavy_builtins_equal_ast_walk(seed):
    tree = ast.parse(generate_kernel(seed).python_source)
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            assert _budget._ops(node) == sum(isinstance(sub, _budget._OPS) for sub in ast.walk(node))
    heavy = set(_budget.HEAVY)
    assert _budget._wp_attributes(tree, heavy) == {
        sub.attr for sub in ast.walk(tree)
        if isinstance(sub, ast.Attribute) and sub.attr in heavy and isinstance(sub.value, ast.Name) and sub.value.id == "wp"
    }
