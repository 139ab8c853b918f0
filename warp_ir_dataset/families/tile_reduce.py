"""Block-cooperative 1D tiles: ``tile_load``/``tile_store``/``tile_atomic_add`` with per-block
offsets, tiles built with ``tile_zeros``/``tile_ones``/``tile_full``/``tile_arange``/
``tile_randf``/``tile_randi``/``tile_from_thread``/``tile(x)``, element-wise ``tile_map`` with
builtins and user ``@wp.func``s, reductions (``tile_sum``/``tile_max``/``tile_min``/
``tile_argmax``/``tile_argmin``/``tile_reduce``/``tile_dot``) read back with ``tile_extract``,
prefix scans (``tile_scan_*``), ``tile_sort``, ``tile_axpy`` and ``tile_astype``."""
from . import GeneratedKernel, family
from ._kit import KernelWriter, literal
from ._tiles import TileKernel

SCANS = ("tile_scan_inclusive", "tile_scan_exclusive", "tile_scan_max_inclusive", "tile_scan_min_inclusive")


@family("tile_reduce", 1.2)
def tile_reduce(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    cname = rng.choice(("TILE", "TILE_SIZE", "BLOCK", "CHUNK", "TILE_N"))
    tk = TileKernel(w, {cname: rng.choice((8, 16, 32, 64, 128))})
    S = (cname,)
    srcs = [w.array_arg(rng.choice(("float32", "float32", "float")), hint=rng.choice(("x", "values", "data", "src", "samples", None)))
            for _ in range(rng.randint(1, 2))]
    out = w.array_arg("float32", hint=rng.choice(("out", "result", "dst")))
    totals = w.array_arg("float32", hint=rng.choice(("totals", "block_sums", "partial", "stats"))) if rng.random() < 0.6 else None
    seed = w.scalar_arg("int", hint="seed") if rng.random() < 0.25 else None
    if rng.random() < 0.4:
        w.scalar_arg("float", hint=rng.choice(("alpha", "scale", "beta", "gain")))
    (i,) = w.tid()
    off = rng.choice((f"{i} * {cname}", f"{i} * {cname}"))
    for a in srcs:
        tk.add(f"wp.tile_load({a}, shape={cname}, offset={off})" if rng.random() < 0.7
               else f"wp.tile_load({a}, shape={cname}, offset={off}, storage=\"shared\")", S)
    # Extra tile sources.
    for _ in range(rng.randint(0, 2)):
        kind = rng.choice(("arange", "full", "rand", "thread", "ones"))
        if kind == "arange":
            tk.add(f"wp.tile_arange({cname}, dtype=float)", S, hint="ramp")
        elif kind == "full":
            tk.add(f"wp.tile_full(shape={cname}, value={tk.scalar(1)}, dtype=float)", S, hint="fill")
        elif kind == "rand" and seed:
            st = w.names.fresh("rstate")
            w.line(f"{st} = wp.uint32(wp.rand_init({seed}, {i}))" if rng.random() < 0.5 else f"{st} = wp.uint32({seed} + {i} * {rng.randint(3, 977)})")
            if rng.random() < 0.6:
                tk.add(f"wp.tile_randf({cname}, {st})", S, hint="noise")
            else:
                tk.add(f"wp.tile_randi({cname}, {st})", S, "int", hint="jitter")
        elif kind == "thread":
            tk.add(f"wp.tile_from_thread({cname}, wp.float32({i}) * {literal(rng)}, 0)", S, hint="bcast")
        else:
            tk.add(f"wp.tile_ones(shape={cname}, dtype=float)", S, hint="ones")
    steps = rng.choices(("elem", "reduce", "scan", "axpy", "astype", "sort", "thread_tile"), (4, 3, 1.5, 0.7, 0.5, 0.5, 0.6), k=rng.randint(2, 5))
    sort_pair = None
    for st in steps:
        if st == "elem":
            tk.elementwise(S)
        elif st == "reduce":
            tk.reduce(S)
        elif st == "scan":
            a = tk.pick(S)
            tk.add(f"wp.{rng.choice(SCANS)}({a.name})", S, hint=rng.choice(("cdf", "prefix", "running", "scan")))
        elif st == "axpy":
            a = tk.pick(S)
            acc = tk.add(f"wp.tile_zeros(shape={cname}, dtype=float)", S, hint="accum")
            w.line(f"wp.tile_axpy({tk.scalar(0)}, {a.name}, {acc.name})")
        elif st == "astype":
            a = tk.pick(S)
            q = tk.add(f"wp.tile_astype({a.name} * {rng.choice(('8.0', '16.0', '255.0', '100.0'))}, dtype=int)", S, "int", hint="q")
        elif st == "sort" and sort_pair is None:
            a = tk.pick(S)
            keys = tk.add(f"{a.name} * 1.0" if rng.random() < 0.5 else f"wp.tile_map(wp.abs, {a.name})", S, hint="keys")
            keys.read()
            ids = tk.add(f"wp.tile_arange({cname}, dtype=int)", S, "int", hint="order")
            ids.read()
            w.line(f"wp.tile_sort({keys.name}, {ids.name})")
            keys.reads = ids.reads = 0
            sort_pair = (keys, ids)
        elif st == "thread_tile":
            x = tk.scalar(1)
            tt = w.names.fresh("lane_tile")
            w.line(f"{tt} = wp.tile({x})")
            red = rng.choice(("tile_sum", "tile_max", "tile_min"))
            if rng.random() < 0.5:
                w.assign(f"wp.tile_extract(wp.{red}({tt}), 0)", "float", hint="block_val")
            else:
                u = w.names.fresh("back")
                w.line(f"{u} = wp.untile(wp.{rng.choice(('tile_scan_inclusive', 'tile_scan_exclusive'))}({tt}))")
                w.assign(u, "float")
    # Outputs: the main tile, then scalars.
    floats = [t for t in tk.tiles if t.dtype == "float" and t.shape == S]
    main = next((t for t in reversed(floats) if t.reads == 0), floats[-1])
    main.read()
    res = tk.fold(main)
    leftovers = [v for v in w.values if v.reads == 0 and v.type == "float"]
    if leftovers and not totals:
        sv = w.assign(w.fold_unused(leftovers[0].name, "float"), "float", hint="shift")
        sv.read()
        res = f"{res} + wp.tile_full(shape={cname}, value={sv.name}, dtype=float)" if rng.random() < 0.5 else f"({res}) * {sv.name}"
    if rng.random() < 0.75:
        w.line(f"wp.tile_store({out}, {res}, offset={off})")
    else:
        w.line(f"wp.tile_atomic_add({out}, {res}, offset={rng.choice(('0', off))})")
    if totals:
        x = w.exprs.live("float", 1)
        w.store(totals, "float32", i, w.fold_unused(x, "float"))
    return GeneratedKernel(name := w.names.kernel_name(rng.choice(("block", "tile", "chunk", "segment"))), w.render(name))
