"""``@wp.struct`` types (float/int/vec/mat33/quat/transform/array fields, sometimes a nested
struct) passed as kernel arguments and in arrays of structs; fields are read, a struct may be
built in a ``@wp.func`` and returned, and struct fields of array elements are written back."""
from . import GeneratedKernel, family
from ._kit import WARP_TYPE, KernelWriter

FIELD_TYPES = ("float", "float", "float", "int", "vec3", "vec3", "vec2", "mat33", "quat", "transform", "vec4")
STRUCT_NAMES = ("Particle", "Body", "Params", "Material", "Contact", "Cell", "Joint", "Camera", "Ray", "Spring", "Grid", "Config", "State", "Light")
FIELD_NAMES = ("pos", "vel", "mass", "inv_mass", "radius", "stiffness", "damping", "gravity", "dt", "rot", "inertia",
               "color", "normal", "origin", "dir", "count", "flags", "kind", "x", "v", "q", "xform", "k", "mu", "scale", "offset", "extent", "uv")


def _struct(w, rng, used: set, nested=None, allow_array=True):
    name = rng.choice([n for n in STRUCT_NAMES if n not in used])
    used.add(name)
    fields = {}
    for fname in rng.sample(FIELD_NAMES, rng.randint(2, 5)):
        fields[fname] = rng.choice(FIELD_TYPES)
    lines = [f"@wp.struct", f"class {name}:"] + [f"    {f}: {WARP_TYPE[t]}" for f, t in fields.items()]
    arrays = []
    if allow_array and rng.random() < 0.3:
        a = rng.choice(("weights", "samples", "table"))
        lines.append(f"    {a}: wp.array(dtype=float)")
        arrays.append(a)
    if nested:
        f = rng.choice(("base", "material", "parent", "settings"))
        lines.append(f"    {f}: {nested[0]}")
        fields[f] = nested
    w.preamble.append("\n".join(lines) + "\n")
    return name, fields, arrays


def _read_fields(w, rng, prefix: str, fields: dict, k: int):
    for f in rng.sample(list(fields), min(k, len(fields))):
        t = fields[f]
        if isinstance(t, tuple):
            sub = rng.choice(list(t[1]))
            w.assign(f"{prefix}.{f}.{sub}", t[1][sub], hint=sub)
        else:
            w.assign(f"{prefix}.{f}", t, hint=f)


@family("structs", 1.2)
def structs(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    used: set = set()
    nested = None
    if rng.random() < 0.25:
        n, fs, _ = _struct(w, rng, used, allow_array=False)
        nested = (n, fs)
    s1, f1, arr1 = _struct(w, rng, used, nested)
    s2 = _struct(w, rng, used) if rng.random() < 0.4 else None
    mode = rng.choice(("param", "array", "both"))
    prm = elems = None
    if mode in ("param", "both"):
        prm = w.names.fresh(rng.choice(("params", "cfg", "settings", "props")))
        w.raw_arg(f"{prm}: {s1}")
    if mode in ("array", "both") or s2:
        st = s2 if (s2 and mode != "array") else (s1, f1, arr1)
        elems = (w.names.fresh(rng.choice(("items", "bodies", "particles", "elements"))), st)
        w.raw_arg(f"{elems[0]}: wp.array(dtype={st[0]})")
    extra = [(w.array_arg(d := rng.choice(("float32", "vec3", "int32"))), d)] if rng.random() < 0.4 else []
    out_t = rng.choice(("float", "vec3", "float", "vec2"))
    out = w.array_arg("float32" if out_t == "float" else out_t, hint="out")
    (i,) = w.tid()
    for a, d in extra:
        w.load(a, d, i)
    if prm:
        _read_fields(w, rng, prm, f1, rng.randint(1, 4))
        if arr1:
            w.assign(f"{prm}.{arr1[0]}[{i} % {prm}.{arr1[0]}.shape[0]]", "float", hint="wgt")
    if elems:
        arr, (sn, sf, sa) = elems
        e = w.names.fresh(rng.choice(("e", "b", "p", "item", "elem")))
        how = rng.choice(("local", "local", "direct"))
        if how == "local":
            w.line(f"{e} = {arr}[{i}]")
            _read_fields(w, rng, e, sf, rng.randint(1, 4))
        else:
            _read_fields(w, rng, f"{arr}[{i}]", sf, rng.randint(1, 3))
        if rng.random() < 0.4:
            j = w.assign(f"({i} + 1) % {arr}.shape[0]", "int", hint="nbr")
            j.read()
            _read_fields(w, rng, f"{arr}[{j.name}]", sf, 1)
    for _ in range(rng.randint(1, 3)):
        w.compute_live(rng.choice(("float", "vec3", out_t)), depth=rng.randint(1, 3))
    if rng.random() < 0.3:
        # build a struct in a helper and read it back
        sn, sf = (s1, f1)
        simple = [f for f, t in sf.items() if not isinstance(t, tuple)]
        if simple:
            mk = w.names.kernel_name("state")
            f0 = rng.choice(simple)
            t0 = sf[f0]
            body = [f"@wp.func", f"def {mk}(x: {WARP_TYPE[t0]}) -> {sn}:", f"    s = {sn}()", f"    s.{f0} = x", "    return s"]
            w.preamble.append("\n".join(body) + "\n")
            tmp = w.names.fresh("built")
            w.line(f"{tmp} = {mk}({w.exprs.live(t0, 1)})")
            w.assign(f"{tmp}.{f0}", t0)
    if elems and rng.random() < 0.4:
        arr, (sn, sf, sa) = elems
        wf = [f for f, t in sf.items() if t in ("float", "vec3", "vec2", "int")]
        if wf:
            f0 = rng.choice(wf)
            w.line(f"{arr}[{i}].{f0} = {w.exprs.live(sf[f0], 2)}")
    res = w.compute_live(out_t, depth=rng.randint(1, 2))
    w.store(out, "float32" if out_t == "float" else out_t, i, w.fold_unused(res.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
