"""Placeholder until the GPU check lands (issue 12)."""


def check(require, gpus_requested, env=None, backend=None):
    return {"require_gpu": require}


def device_info(backend=None):
    import platform
    import os
    return {"type": "CPU", "gpus": [], "cpu": platform.processor() or platform.machine(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
