"""A loader's predict() lets other Python threads run while the engine works."""
import sys
import threading

import numpy as np

import polaris


def test_another_thread_runs_python_while_a_loader_predicts(models):
    loader = polaris.ONNXModelLoader()
    loader.load(models / "vision" / "resnet50.onnx")
    x = np.zeros((4, 3, 224, 224), np.float32)
    started, done = threading.Event(), threading.Event()

    def predict():
        started.set()
        loader.predict(x)
        done.set()

    # With a switch interval of 1000 s no thread is made to give up the GIL: it changes
    # hands only when its holder blocks or releases it. So after started.set() the worker
    # keeps the GIL until predict() releases it for the engine; only then can this thread
    # run again and see the prediction unfinished. Were the GIL held through the engine
    # call, this thread would run only after done.set(). (ResNet50 on 4 images takes far
    # longer than this thread takes to wake, so the engine never finishes first.)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000)
    try:
        worker = threading.Thread(target=predict)
        worker.start()
        started.wait()
        ran_during_the_engine_call = not done.is_set()
        done.wait()
        worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert ran_during_the_engine_call, "predict() held the GIL while the engine ran"
