"""Procedural noise: Perlin ``wp.noise``/periodic ``wp.pnoise``/``wp.curlnoise`` over 1-4D
coordinates with a ``wp.rand_init`` state, fractal octave sums, turbulence and domain warping."""
from . import family
from ._themed import themed


def _setup(w, i):
    rng = w.rng
    seed = w.names.fresh(rng.choice(("seed", "noise_seed")))
    w.raw_arg(f"{seed}: int")
    st = w.names.fresh(rng.choice(("state", "nstate")))
    w.line(f"{st} = wp.rand_init({seed})" if rng.random() < 0.6 else f"{st} = wp.rand_init({seed}, {i})")
    oct_ = f"wp.uint32({rng.randint(1, 5)})"
    return {
        "float": [(f"wp.noise({st}, {{0}})", ("float",)), (f"wp.noise({st}, {{0}})", ("vec2",)), (f"wp.noise({st}, {{0}})", ("vec3",)),
                  (f"wp.noise({st}, {{0}})", ("vec4",)), (f"wp.pnoise({st}, {{0}}, {{lit_i}})", ("float",)),
                  (f"wp.pnoise({st}, {{0}}, {{lit_i}}, {{lit_i}})", ("vec2",)), (f"wp.pnoise({st}, {{0}}, {{lit_i}}, {{lit_i}}, {{lit_i}})", ("vec3",)),
                  (f"wp.abs(wp.noise({st}, {{0}} * {{lit}}))", ("vec3",))],
        "vec3": [(f"wp.curlnoise({st}, {{0}})", ("vec3",)), (f"wp.curlnoise({st}, {{0}}, {oct_}, 2.0, 0.5)", ("vec3",)),
                 (f"wp.curlnoise({st}, {{0}})", ("vec4",)), (f"({{0}} + wp.vec3(wp.noise({st}, {{0}})))", ("vec3",))],
        "vec2": [(f"wp.curlnoise({st}, {{0}})", ("vec2",))],
    }


@family("noise")
def noise(rng):
    return themed(rng, rules={}, setup=_setup, in_dtypes=("vec3", "vec3", "vec2", "float32", "vec4"),
                  out_types=("float", "float", "vec3", "vec2"), extra_p=0.6, topic=rng.choice(("noise", "turbulence", "terrain", "flow")), min_calls=2)
