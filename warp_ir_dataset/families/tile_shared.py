"""Per-thread values meeting block-shared tiles: block-local histograms and scatters
(``tile_scatter_add``/``tile_scatter_masked`` into ``tile_zeros`` tiles, then
``tile_store``/``tile_atomic_add``), and cooperative work stacks (``tile_stack`` with
``tile_stack_push``/``tile_stack_pop``/``tile_stack_count``/``tile_stack_clear``) used to
compact the threads whose value passes a predicate."""
from . import GeneratedKernel, family
from ._kit import KernelWriter, literal


@family("tile_shared", 0.8)
def tile_shared(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    nb = rng.choice(("BINS", "NUM_BINS", "SLOTS", "BUCKETS"))
    cap = rng.choice(("CAPACITY", "STACK_CAP", "QUEUE_SIZE"))
    consts = {nb: rng.choice((8, 16, 32, 64))}
    use_stack = rng.random() < 0.55
    use_scatter = not use_stack or rng.random() < 0.5
    if use_stack:
        consts[cap] = rng.choice((32, 64, 128, 256))
    w.preamble.append("\n".join(f"{k} = wp.constant({v})" for k, v in consts.items()) + "\n")
    ins = [(w.array_arg(d := rng.choice(("float32", "float32", "vec3", "int32"))), d) for _ in range(rng.randint(1, 2))]
    outs = []
    if rng.random() < 0.5:
        w.scalar_arg("float", hint=rng.choice(("thresh", "scale", "lo", "cut")))
    (i,) = w.tid()
    for a, d in ins:
        w.load(a, d, i)
    for _ in range(rng.randint(0, 2)):
        w.compute_live(rng.choice(("float", "float", "int")), depth=rng.randint(1, 2))
    if use_scatter:
        hist = w.array_arg("float32", hint=rng.choice(("hist", "block_hist", "bins", "tally")))
        h = w.names.fresh(rng.choice(("local_hist", "shared_bins", "acc_tile")))
        masked = rng.random() < 0.35
        # Zeroed, never ``tile_empty``: the bins no thread scatters into are stored too, and an
        # empty tile's would hold whatever the memory held (a row could not be launched again).
        w.line(f"{h} = wp.tile_zeros(shape={nb}, dtype=float)")
        x = w.exprs.live("float", 1)
        b = w.assign(rng.choice((f"wp.clamp(wp.int32({x} * float({nb})), 0, {nb} - 1)", f"wp.abs(wp.int32({x} * {literal(rng)})) % {nb}")), "int", hint="bin")
        b.read()
        val = w.exprs.live("float", 1) if rng.random() < 0.5 else "1.0"
        cond = w.exprs.live("bool", 1) if rng.random() < 0.6 else "True"
        if masked:
            w.line(f"wp.tile_scatter_masked({h}, {b.name}, {val}, {cond})")
        else:
            w.line(f"wp.tile_scatter_add({h}, {b.name}, {val}, {cond})")
        if rng.random() < 0.6:
            w.line(f"wp.tile_atomic_add({hist}, {h}, offset=0)")
        else:
            w.line(f"wp.tile_store({hist}, {h}, offset={i} * {nb})")
    if use_stack:
        s = w.names.fresh(rng.choice(("stack", "queue", "work")))
        w.line(f"{s} = wp.tile_stack(capacity={cap}, dtype=float)")
        if rng.random() < 0.4:
            w.line(f"wp.tile_stack_clear({s})")
        w.line(f"wp.tile_stack_push({s}, {w.exprs.live('float', 1)}, {w.exprs.live('bool', 1)})")
        out = w.array_arg("float32", hint=rng.choice(("popped", "out", "compacted")))
        if rng.random() < 0.5:
            cnt = w.array_arg("int32", hint=rng.choice(("count", "num_active", "n_pushed")))
            w.line(f"{cnt}[{i}] = wp.tile_stack_count({s})")
        v, ok = w.names.fresh("item"), w.names.fresh("has_item")
        w.line(f"{v}, {ok} = wp.tile_stack_pop({s})")
        rest = w.fold_unused(w.exprs.live("float", 1), "float")
        w.line(f"{out}[{i}] = wp.where({ok}, {v}, {rest})" if rng.random() < 0.5 else f"{out}[{i}] = wp.where({ok}, {v} + {rest}, 0.0)")
    leftovers = [v for v in w.values if v.reads == 0]
    if leftovers:
        o = w.array_arg("float32", hint=rng.choice(("aux", "residual", "out_val")))
        w.store(o, "float32", i, w.fold_unused(leftovers[0].name if leftovers[0].type == "float" else "0.0", "float"))
    return GeneratedKernel(name := w.names.kernel_name(rng.choice(("bins", "queue", "compact", "hist"))), w.render(name))
