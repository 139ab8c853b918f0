"""2D block tiles and their layout operations: ``tile_load``/``tile_store`` of (TM, TN)
blocks of 2D arrays, ``tile_transpose``, row/column reductions (``tile_sum``/``tile_reduce``
with ``axis``), ``tile_broadcast`` of rows/columns back to blocks, ``tile_view`` of a row,
``tile_reshape``/``tile_squeeze`` to 1D, ``tile_diag_add`` on square blocks, ``tile_assign``
into a zero block, ``tile_extract`` of single entries, and gathers/scatters through index tiles
(``tile_load_indexed``/``tile_store_indexed``/``tile_atomic_add_indexed``)."""
from . import GeneratedKernel, family
from ._kit import KernelWriter, literal
from ._tiles import TileKernel


@family("tile_layout", 1.2)
def tile_layout(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    m_, n_ = rng.choice((("TM", "TN"), ("TILE_M", "TILE_N"), ("ROWS", "COLS"), ("BM", "BN")))
    square = rng.random() < 0.4
    m = rng.choice((2, 4, 8, 16))
    n = m if square else rng.choice((2, 4, 8, 16))
    flat = rng.choice(("TILE_FLAT", "TILE_SIZE", "BLOCK_ELEMS"))
    tk = TileKernel(w, {m_: m, n_: n, flat: m * n})
    B, R, C, F = (m_, n_), (n_,), (m_,), (flat,)
    ins = [w.array_arg("float32", ndim=2, hint=rng.choice(("A", "mat", "field", "img", "block_src", None))) for _ in range(rng.randint(1, 2))]
    idx = w.array_arg("int32", hint=rng.choice(("rows", "perm", "index", "gather_ids"))) if rng.random() < 0.35 else None
    out = w.array_arg("float32", ndim=2, hint="out")
    vec_out = w.array_arg("float32", hint=rng.choice(("row_sums", "col_max", "flat_out", "norms"))) if rng.random() < 0.5 else None
    if rng.random() < 0.4:
        w.scalar_arg("float", hint=rng.choice(("alpha", "scale", "reg", "shift")))
    ij = w.tid(rng.choice((1, 2)))
    ro = f"{ij[0]} * {m_}"
    co = f"{ij[1]} * {n_}" if len(ij) > 1 else "0"
    for a in ins:
        tk.add(f"wp.tile_load({a}, shape=({m_}, {n_}), offset=({ro}, {co}))", B, hint=rng.choice(("blk", "Ablk", "tile", "patch")))
    if idx:
        ix = tk.add(f"wp.tile_load({idx}, shape={m_}, offset={ro})", C, "int", hint="ids")
        ix.read()
        tk.add(f"wp.tile_load_indexed({ins[0]}, indices={ix.name}, shape=({m_}, {n_}), offset=(0, {co}), axis=0)", B, hint="gathered")
    ops = rng.choices(("elem", "transpose", "axis_reduce", "view", "reshape", "diag", "assign", "extract", "reduce"),
                      (3, 1.5 if square else 0.8, 2, 1, 1, 1.5 if square else 0, 0.7, 1, 1), k=rng.randint(2, 5))
    for op in ops:
        if op == "elem":
            tk.elementwise(B)
        elif op == "transpose":
            a = tk.pick(B)
            t = tk.add(f"wp.tile_transpose({a.name})", (n_, m_), hint="At")
            t.view = True
            if square:
                t.shape = B
            else:
                t.read()
                tk.add(f"wp.tile_sum({t.name}, axis=1)", R, hint="col_tot")
        elif op == "axis_reduce":
            a = tk.pick(B)
            ax = rng.choice((0, 1))
            fn = rng.choice(("sum", "sum", "reduce"))
            e = f"wp.tile_sum({a.name}, axis={ax})" if fn == "sum" else f"wp.tile_reduce({rng.choice(('wp.max', 'wp.min', 'wp.add'))}, {a.name}, axis={ax})"
            red = tk.add(e, R if ax == 0 else C, hint=("col", "row")[ax] + "_red")
            if rng.random() < 0.6:
                red.read()
                tk.add(f"wp.tile_broadcast({red.name}, shape=({m_}, {n_}))" if ax == 0 else
                       f"wp.tile_transpose(wp.tile_broadcast({red.name}, shape=({n_}, {m_})))", B, hint="spread").view = True
        elif op == "view":
            a = tk.pick(B)
            tk.add(f"wp.tile_view({a.name}, offset=({rng.randrange(m)},))", R, hint="row").view = a.view
        elif op == "reshape":
            a = tk.pick(B, contiguous=True)
            if a is None:
                continue
            if rng.random() < 0.5:
                tk.add(f"wp.tile_reshape({a.name}, shape=({flat},))", F, hint="flat")
            else:
                tk.add(f"wp.tile_squeeze(wp.tile_reshape({a.name}, shape=(1, {flat})), axis=(0,))", F, hint="flat")
        elif op == "diag":
            a = tk.pick(B)
            d = tk.pick(C) or tk.add(f"wp.tile_full(shape={m_}, value={literal(rng)}, dtype=float)", C, hint="diag")
            d.read()
            tk.add(f"wp.tile_diag_add({a.name}, {d.name})", B, hint="reg")
        elif op == "assign":
            a = tk.pick(R, contiguous=True) or tk.pick(B, contiguous=True)
            if a is None:
                continue
            if a.shape == B:
                a = tk.add(f"wp.tile_view({a.name}, offset=(0,))", R, hint="row")
            a.read()
            z = tk.add(f"wp.tile_zeros(shape=({m_}, {n_}), dtype=float)", B, hint="padded")
            w.line(f"wp.tile_assign({z.name}, wp.tile_reshape({a.name}, shape=(1, {n_})), offset=({rng.randrange(m)}, 0))")
        elif op == "extract":
            a = tk.pick(B, fresh=0.3)
            w.assign(f"wp.tile_extract({a.name}, {rng.randrange(m)}, {rng.randrange(n)})", "float", hint=rng.choice(("pivot", "corner", "entry")))
        else:
            tk.reduce(B)
    # Fold 1D leftovers of each shape into a vector output (or back into the block).
    main = next((t for t in reversed(tk.tiles) if t.shape == B and t.dtype == "float" and t.reads == 0), None) or tk.tiles[0]
    main.read()
    for shape in (R, C, F):
        left = [t for t in tk.unread() if t.shape == shape and t.dtype == "float"]
        if not left:
            continue
        if vec_out and shape == F:
            continue
        folded = tk.fold(left[0])
        # A lone tile is used as it is: a plain ``copy = tile`` of a tile view has no adjoint
        # in Warp 1.19 (clang/NVRTC: no matching ``adj_copy``), so it would not compile.
        acc = left[0] if folded == left[0].name else tk.add(folded, shape, hint="vec")
        acc.read()
        if shape == R:
            tk.add(f"{main.name} + wp.tile_broadcast({acc.name}, shape=({m_}, {n_}))", B, hint="blk_out")
        elif shape == C:
            tk.add(f"{main.name} + wp.tile_transpose(wp.tile_broadcast({acc.name}, shape=({n_}, {m_})))", B, hint="blk_out")
        else:
            tk.add(f"{main.name} + wp.tile_reshape({acc.name}, shape=({m_}, {n_}))", B, hint="blk_out")
        main = tk.tiles[-1]
        main.read()
    res = tk.fold(main)
    leftovers = [v for v in w.values if v.reads == 0 and v.type == "float"]
    if leftovers:
        sv = w.assign(w.fold_unused(leftovers[0].name, "float"), "float", hint="s")
        sv.read()
        res = f"({res}) * {sv.name}"
    if idx and rng.random() < 0.5:
        ix = next(t for t in tk.tiles if t.dtype == "int")
        fn = rng.choice(("tile_store_indexed", "tile_atomic_add_indexed"))
        w.line(f"wp.{fn}({out}, indices={ix.name}, t={res}, offset=(0, {co}), axis=0)")
    else:
        w.line(f"wp.tile_store({out}, {res}, offset=({ro}, {co}))")
    if vec_out:
        flat_left = [t for t in tk.unread() if t.shape == F]
        if flat_left:
            w.line(f"wp.tile_store({vec_out}, {tk.fold(flat_left[0])}, offset={ij[0]} * {flat})")
        else:
            w.line(f"{vec_out}[{ij[0]}] = {w.exprs.live('float', 1)}")
    return GeneratedKernel(name := w.names.kernel_name(rng.choice(("block", "tile", "panel", "patch"))), w.render(name))
