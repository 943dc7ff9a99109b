#!/usr/bin/env python3
"""The Python path that `npm run bench -- --peers` (bench/peers.ts) times against the project.

    /usr/bin/python3 bench/peers_python.py serve        # the round-robin worker (JSON lines on stdin/stdout)
    /usr/bin/python3 bench/peers_python.py cold MODEL.onnx SPEC.json IMAGE   # a cold start

Preprocessing as the models were trained: PIL open, convert('RGB'), then either torchvision's eval
transforms (Resize(shorter) bilinear with antialias, CenterCrop, ToTensor, Normalize: the parity
reference) or the same steps in PIL + numpy (what a lean Python service does, without torch).
Inference: ONNX Runtime's Python package when it imports (bench/peers.ts installs it into the cache),
on the same ONNX file, 1 thread. Each request is timed here with perf_counter, so the pipe to the
parent is not counted. `cold` prints one JSON line once the top-3 is known; the parent times the
process from spawn to that line.
"""
import time

STARTED = time.perf_counter()

import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy as np
from PIL import Image


def resized_size(width, height, size):
    """torchvision Resize(int): shorter side to `size`, the longer int(size * long / short)."""
    if width <= height:
        return size, max(size, int(size * height / width))
    return max(size, int(size * width / height)), size


class Spec:
    def __init__(self, spec):
        self.resize = spec["resizeShorter"]
        self.crop = spec["cropSize"]
        order = [0, 1, 2] if spec.get("channelOrder", "RGB") == "RGB" else [2, 1, 0]
        self.order = order
        self.mean = np.array([spec["mean"][c] for c in order], dtype=np.float32).reshape(3, 1, 1)
        self.std = np.array([spec["std"][c] for c in order], dtype=np.float32).reshape(3, 1, 1)
        self._torchvision = None

    def pil_numpy(self, data):
        """PIL + numpy: the same steps and values as torchvision's transforms, without torch."""
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
        width, height = resized_size(rgb.width, rgb.height, self.resize)
        rgb = rgb.resize((width, height), Image.BILINEAR)
        left = int(round((width - self.crop) / 2.0))
        top = int(round((height - self.crop) / 2.0))
        rgb = rgb.crop((left, top, left + self.crop, top + self.crop))
        planes = np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)[self.order]
        return np.ascontiguousarray((planes / 255.0 - self.mean) / self.std, dtype=np.float32)

    def torchvision(self, data):
        """torchvision's eval transforms, as test/fixtures/torchvision_reference.py runs them."""
        if self._torchvision is None:
            from torchvision import transforms

            self._torchvision = transforms.Compose(
                [
                    transforms.Resize(self.resize, interpolation=transforms.InterpolationMode.BILINEAR, antialias=True),
                    transforms.CenterCrop(self.crop),
                    transforms.ToTensor(),
                    transforms.Normalize(mean=self.mean.ravel().tolist(), std=self.std.ravel().tolist()),
                ]
            )
        with Image.open(io.BytesIO(data)) as image:
            return self._torchvision(image.convert("RGB")).numpy()


try:  # imported at start, as a service does (the cold start counts it)
    import onnxruntime
except ImportError as err:
    onnxruntime = err


def ort_session(model):
    """A 1-thread ONNX Runtime session on `model`, or the reason there is none."""
    ort = onnxruntime
    if isinstance(ort, ImportError):
        return None, f"onnxruntime does not import: {ort}"
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return session, ort.__version__


def top3(session, planes):
    logits = session.run(None, {session.get_inputs()[0].name: planes[None]})[0][0]
    return [int(i) for i in np.argsort(-logits)[:3]]


def serve():
    spec = None
    images = []
    session = None
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        reply = {}
        if op == "load":
            spec = Spec(request["spec"])
            images = []
            for path in request["files"]:
                with open(path, "rb") as f:
                    images.append(f.read())
            if request.get("model"):
                session, version = ort_session(request["model"])
                reply["onnxruntime"] = version if session is not None else None
                reply["why"] = None if session is not None else version
            import PIL

            reply["pillow"] = PIL.__version__
            reply["numpy"] = np.__version__
        elif op == "pre":
            fn = spec.torchvision if request["impl"] == "torchvision" else spec.pil_numpy
            data = images[request["i"]]
            cpu = time.process_time()
            start = time.perf_counter()
            planes = fn(data)
            reply["ms"] = (time.perf_counter() - start) * 1000
            reply["cpuMs"] = (time.process_time() - cpu) * 1000
            if request.get("save"):
                planes.astype("<f4", copy=False).tofile(request["save"])
        elif op == "infer":
            planes = spec.pil_numpy(images[request["i"]])
            start = time.perf_counter()
            top3(session, planes)
            reply["ms"] = (time.perf_counter() - start) * 1000
        elif op == "e2e":
            data = images[request["i"]]
            start = time.perf_counter()
            reply["top3"] = top3(session, spec.pil_numpy(data))
            reply["ms"] = (time.perf_counter() - start) * 1000
        elif op == "rss":
            with open("/proc/self/status") as f:
                reply["peakRssMb"] = next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))
        else:
            reply["error"] = f"unknown op {op}"
        out.write(json.dumps(reply) + "\n")
        out.flush()


def cold(model, spec_file, image):
    """Process start to the first top-3, as a Python service without a warm-up does it."""
    parts = {"imports": (time.perf_counter() - STARTED) * 1000}
    with open(spec_file) as f:
        spec = Spec(json.load(f))
    mark = time.perf_counter()
    session, _ = ort_session(model)
    parts["session"] = (time.perf_counter() - mark) * 1000
    mark = time.perf_counter()
    with open(image, "rb") as f:
        labels = top3(session, spec.pil_numpy(f.read()))
    parts["firstRequest"] = (time.perf_counter() - mark) * 1000
    with open("/proc/self/status") as f:
        hwm = next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))
    cpu_ms = time.process_time() * 1000  # every thread of this process, since its start
    print(json.dumps({"top3": labels, "peakRssMb": hwm, "cpuMs": cpu_ms, "parts": parts}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["cold"] and len(sys.argv) == 5:
        cold(*sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
