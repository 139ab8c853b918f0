"""An example model plug-in for ``predict``: a ``transformers`` causal LM. Not run in CI (it needs
``pip install transformers torch`` and a model).

    WIRDS_MODEL=Qwen/Qwen2.5-Coder-1.5B-Instruct \\
    ./dev python -m warp_ir_dataset.predict --data data/production --config cpu --task decompile \\
        --with model_transformers:predict --out preds.jsonl        # with benchmarks/ on PYTHONPATH
    ./dev python -m warp_ir_dataset.evaluate preds.jsonl --data data/production --config cpu --task decompile

A model sees only the task's input: ``python_source`` for ``compile``, ``forward_code`` for
``decompile``. The prompt below is a plain instruction; a model trained on the ``train`` split
would be prompted the way it was trained.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache

PROMPTS = {
    "compile": "Here is an NVIDIA Warp kernel in Python. Write the C++ forward function Warp 1.19 generates for it on the {device}.\n\n{source}\n",
    "decompile": "Here is the {device} C++ forward function NVIDIA Warp 1.19 generated for a kernel. Write the Python @wp.kernel (with `import warp as wp`) it came from.\n\n{source}\n",
}
MAX_NEW_TOKENS = int(os.environ.get("WIRDS_MAX_NEW_TOKENS", "2048"))


@lru_cache(maxsize=1)
def _model():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = os.environ["WIRDS_MODEL"]
    tokenizer = AutoTokenizer.from_pretrained(name)
    return tokenizer, AutoModelForCausalLM.from_pretrained(name, torch_dtype="auto", device_map="auto")


def predict(row: dict, task: str) -> str:
    tokenizer, model = _model()
    source = row["python_source"] if task == "compile" else row["forward_code"]
    messages = [{"role": "user", "content": PROMPTS[task].format(device=row["device"], source=source)}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt").to(model.device)
    output = model.generate(inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    text = tokenizer.decode(output[0, inputs.shape[1]:], skip_special_tokens=True)
    fenced = re.search(r"```(?:\w+)?\n(.*?)```", text, re.S)  # the answer inside a code fence, when the model uses one
    return fenced.group(1) if fenced else text
