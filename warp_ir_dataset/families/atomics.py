"""Atomic read-modify-write: histograms/binning, global reductions (sum/min/max), scatter-adds
of forces along index pairs, stream compaction through an atomic counter, bitwise atomics on
integer flags, slot claiming with ``atomic_cas``/``atomic_exch``, ``lower_bound`` bucketing, and ``array[idx] += value`` style accumulation, on 1D and 2D arrays."""
from . import GeneratedKernel, family
from ._kit import KernelWriter

IN_DTYPES = ("float32", "float32", "vec3", "float64", "int32", "vec2")
BINS = ("hist", "bins", "counts", "occupancy", "cell_count", "votes")


def _idx(w, rng, arr: str, src: str) -> str:
    """An int expression in [0, arr.shape[0]) derived from float value ``src``."""
    return rng.choice((
        f"wp.clamp(wp.int32({src} * {rng.choice(('8.0', '16.0', '10.0', '32.0', '64.0'))}), 0, {arr}.shape[0] - 1)",
        f"wp.int32(wp.abs({src}) * {rng.choice(('7.0', '13.0', '100.0'))}) % {arr}.shape[0]",
        f"wp.min(wp.int32(wp.floor(wp.abs({src}))), {arr}.shape[0] - 1)",
    ))


@family("atomics", 1.2)
def atomics(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    ins = [(w.array_arg(d := rng.choice(IN_DTYPES)), d) for _ in range(rng.randint(1, 2))]
    pairs = w.array_arg(rng.choice(("int32", "vec2i")), hint=rng.choice(("edges", "springs", "pairs"))) if rng.random() < 0.35 else None
    pre_args = len(w.args)
    if rng.random() < 0.4:
        w.scalar_arg("float", hint=rng.choice(("scale", "inv_cell", "dt", "weight")))
    (i,) = w.tid()
    for a, d in ins:
        w.load(a, d, i)
    for _ in range(rng.randint(0, 3)):
        w.compute_live(rng.choice(("float", "float", "vec3", "int")), depth=rng.randint(1, 2))

    def fval(t: str, last: bool) -> str:
        e = w.exprs.live(t, rng.randint(1, 2))
        return w.fold_unused(e, t) if last else e

    ops = rng.choices(("hist", "reduce", "minmax", "scatter", "compact", "bits", "augassign", "grid", "lock", "search"),
                      (2, 2, 1.5, 1.5 if pairs else 0.6, 1, 0.7, 1.5, 0.8, 0.6, 0.6), k=rng.randint(1, 4))
    if pairs and "scatter" not in ops:
        ops.insert(rng.randint(0, len(ops)), "scatter")
    for n, op in enumerate(ops):
        last = n == len(ops) - 1
        if op == "hist":
            h = w.array_arg(rng.choice(("int32", "int32", "float32", "uint32")), hint=rng.choice(BINS))
            dt = w.args[-1].split("dtype=")[1].split(")")[0]
            b = w.assign(_idx(w, rng, h, w.exprs.expr("float", 1)), "int", hint="b")
            b.read()
            one = {"wp.int32": "1", "wp.float32": fval("float", False) if rng.random() < 0.5 else "1.0", "wp.uint32": "wp.uint32(1)"}[dt]
            if rng.random() < 0.5:
                w.line(f"wp.atomic_add({h}, {b.name}, {one})")
            else:
                w.line(f"{h}[{b.name}] += {one}")
            if last:
                ops.append("reduce")
        elif op == "reduce":
            t = rng.choice(("float", "float", "vec3", "int"))
            dt = {"float": rng.choice(("float32", "float64")), "vec3": "vec3", "int": "int32"}[t]
            acc = w.array_arg(dt, hint=rng.choice(("total", "sum", "energy", "momentum", "accum")))
            e = fval(t, last)
            e = f"wp.float64({e})" if dt == "float64" else e
            fn = rng.choice(("atomic_add", "atomic_add", "atomic_sub"))
            w.line(f"wp.{fn}({acc}, {rng.choice(('0', '0', f'{i} % {acc}.shape[0]'))}, {e})")
        elif op == "minmax":
            t = rng.choice(("float", "int"))
            lo = w.array_arg("float32" if t == "float" else "int32", hint=rng.choice(("bounds", "extent", "range_", "lim")))
            v = w.assign(fval(t, last), t)
            v.read()
            w.line(f"wp.atomic_min({lo}, 0, {v.name})")
            w.line(f"wp.atomic_max({lo}, 1, {v.name})")
        elif op == "scatter":
            t = rng.choice(("vec3", "float", "vec2"))
            f = w.array_arg(t if t != "float" else "float32", hint=rng.choice(("forces", "grad", "impulse", "delta")))
            if pairs:
                pdt = [a for a in w.args if a.startswith(pairs + ":")][0]
                if "vec2i" in pdt:
                    a_, b_ = f"{pairs}[{i}][0]", f"{pairs}[{i}][1]"
                else:
                    a_, b_ = f"{pairs}[2 * {i}]", f"{pairs}[2 * {i} + 1]"
                ia = w.assign(a_, "int", hint="a"); ib = w.assign(b_, "int", hint="b")
                ia.read(); ib.read()
                val = w.assign(fval(t, last), t, hint=rng.choice(("f", "impulse", "corr")))
                val.read()
                w.line(f"wp.atomic_add({f}, {ia.name}, {val.name})")
                w.line(rng.choice((f"wp.atomic_sub({f}, {ib.name}, {val.name})", f"{f}[{ib.name}] -= {val.name}")))
            else:
                tgt = w.assign(f"({i} + {rng.randint(1, 5)}) % {f}.shape[0]", "int", hint="nbr")
                tgt.read()
                w.line(f"wp.atomic_add({f}, {tgt.name}, {fval(t, last)})")
        elif op == "compact":
            cnt = w.array_arg("int32", hint=rng.choice(("counter", "num_out", "cursor")))
            t = rng.choice(("float", "vec3"))
            dst = w.array_arg("float32" if t == "float" else t, hint=rng.choice(("compacted", "selected", "queue")))
            with w.block(f"if {w.exprs.live('bool', 1)}:") as m:
                slot = w.assign(f"wp.atomic_add({cnt}, 0, 1)", "int", hint="slot")
                slot.read()
                with w.block(f"if {slot.name} < {dst}.shape[0]:") as m2:
                    w.line(f"{dst}[{slot.name}] = {fval(t, last)}")
            if last and any(v.reads == 0 for v in w.values):
                ops.append("reduce")
        elif op == "bits":
            fl = w.array_arg(rng.choice(("int32", "uint32")), hint=rng.choice(("flags", "mask", "bits")))
            u = "uint32" in w.args[-1]
            bit = f"({w.exprs.expr('int', 1)} & 31)"
            val = f"wp.uint32(1) << wp.uint32({bit})" if u else f"1 << {bit}"
            fn = rng.choice(("atomic_or", "atomic_or", "atomic_xor", "atomic_and"))
            if rng.random() < 0.4:
                old = w.assign(f"wp.{fn}({fl}, {i} % {fl}.shape[0], {val})", "int" if not u else "uint", hint="prev")
                old.read()
                back = w.array_arg("int32", hint="prev_bits")
                w.line(f"{back}[{i}] = {'wp.int32(' + old.name + ')' if u else old.name}")
            else:
                w.line(f"wp.{fn}({fl}, {i} % {fl}.shape[0], {val})")
            if last:
                ops.append("reduce")
        elif op == "augassign":
            t = rng.choice(("float", "vec3", "int"))
            dt = {"float": "float32", "vec3": "vec3", "int": "int32"}[t]
            a = w.array_arg(dt, hint=rng.choice(("accum", "buffer", "field", "sums")))
            idx = rng.choice((i, f"{i} // {rng.choice((2, 4, 8, 32))}", f"{i} % {a}.shape[0]"))
            w.line(f"{a}[{idx}] {rng.choice(('+=', '+=', '-='))} {fval(t, last)}")
        elif op == "lock":
            # claim a slot with compare-and-swap / exchange, keep the previous owner
            own = w.array_arg("int32", hint=rng.choice(("owner", "lock", "claimed", "slot_owner")))
            slot = w.assign(_idx(w, rng, own, w.exprs.expr("float", 1)), "int", hint="slot")
            slot.read()
            if rng.random() < 0.5:
                prev = w.assign(f"wp.atomic_cas({own}, {slot.name}, -1, {i})", "int", hint="prev")
            else:
                prev = w.assign(f"wp.atomic_exch({own}, {slot.name}, {i})", "int", hint="prev")
            prev.read()
            won = w.array_arg(rng.choice(("int32", "float32")), hint=rng.choice(("winner", "won", "result")))
            e = f"wp.where({prev.name} == -1, 1, 0)" if "int32" in w.args[-1] else f"wp.where({prev.name} == -1, {fval('float', last)}, 0.0)"
            w.line(f"{won}[{i}] = {e}")
            if last and any(v.reads == 0 for v in w.values):
                ops.append("reduce")
        elif op == "search":
            # bucket a value by binary search over sorted bin edges
            edges = w.array_arg("float32", hint=rng.choice(("edges", "bin_edges", "sorted_keys", "cdf")))
            x = w.exprs.live("float", 1)
            b = w.assign(rng.choice((f"wp.lower_bound({edges}, {x})", f"wp.lower_bound({edges}, 0, {edges}.shape[0], {x})")), "int", hint="bucket")
            b.read()
            h = w.array_arg("int32", hint=rng.choice(BINS))
            w.line(f"wp.atomic_add({h}, wp.min({b.name}, {h}.shape[0] - 1), 1)")
            if last and any(v.reads == 0 for v in w.values):
                ops.append("reduce")
        elif op == "grid":
            t = rng.choice(("float", "float", "vec3"))
            g = w.array_arg("float32" if t == "float" else t, ndim=2, hint=rng.choice(("grid", "image", "tally")))
            p = w.exprs.expr("vec3", 1)
            cx = w.assign(f"wp.clamp(wp.int32({p}[0]), 0, {g}.shape[0] - 1)", "int", hint="cx")
            cy = w.assign(f"wp.clamp(wp.int32({w.exprs.expr('float', 1)}), 0, {g}.shape[1] - 1)", "int", hint="cy")
            cx.read(); cy.read()
            fn = rng.choice(("atomic_add", "atomic_add", "atomic_max" if t == "float" else "atomic_sub"))
            w.line(f"wp.{fn}({g}, {cx.name}, {cy.name}, {fval(t, last)})")
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
