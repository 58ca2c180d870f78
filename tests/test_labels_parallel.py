"""apo_kit.labels with n_jobs=2 forks a child process: results must equal the in-process ones, and a failing child
must raise a clear error in the parent instead of hanging or returning partial results."""
import pytest
from fastcore.test import test_eq as eq_
from apo_kit import labels as L

def test_two_jobs_equal_one_job():
    texts = L.templated_reports(4500, seed=3) + [None, '', 'As an AI, I cannot interpret images.']
    eq_(L.label_texts(texts, n_jobs=2).equals(L.label_texts(texts, n_jobs=1)), True)
    eq_(L.mention_table(texts, n_jobs=2).equals(L.mention_table(texts, n_jobs=1)), True)

def _fails_in_child(texts):
    import os
    if os.getpid() != PARENT: raise ValueError('boom in the child')
    return [len(texts)]

def test_child_failure_is_reported():
    global PARENT
    import os
    PARENT = os.getpid()
    with pytest.raises(RuntimeError, match='labelling worker failed: ValueError: boom in the child'):
        L.parallel_chunks(_fails_in_child, ['x'] * 5000, n_jobs=2)

def test_small_inputs_stay_in_process():
    eq_(L.parallel_chunks(lambda t: [len(t)], ['x'] * 100, n_jobs=2), [[100]])
