import pytest
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase

from xner_allennlp.training import threads
from xner_allennlp.training.threads import TorchThreadsCallback, auto_threads, resolve_threads


class TestTorchThreads(AllenNlpTestCase):
    def test_resolve(self):
        assert resolve_threads(3) == 3
        assert resolve_threads("2") == 2
        assert 1 <= resolve_threads("auto") == auto_threads()
        assert resolve_threads("") == auto_threads()
        for bad in ("many", 0, "-1"):
            with pytest.raises(ConfigurationError, match="positive integer or 'auto'"):
                resolve_threads(bad)

    def test_callback_sets_threads(self, monkeypatch):
        # conftest runs the tests with one torch thread: each check starts from a count other
        # than the one the callback must set, so a callback that does nothing fails it.
        before = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            TorchThreadsCallback(str(self.TEST_DIR), num_threads=2).on_start(trainer=None)
            assert torch.get_num_threads() == 2
            TorchThreadsCallback(str(self.TEST_DIR), num_threads="3").on_start(trainer=None)
            assert torch.get_num_threads() == 3

            # A fixed count is set once, at the start: epochs leave the threads alone.
            torch.set_num_threads(1)
            TorchThreadsCallback(str(self.TEST_DIR), num_threads=2).on_epoch(None, {}, 0)
            assert torch.get_num_threads() == 1

            # "auto" (the default): the idle CPUs at the start, and again at every epoch.
            monkeypatch.setattr(threads, "idle_cpus", lambda own_threads=1: 3)
            auto = TorchThreadsCallback(str(self.TEST_DIR))
            auto.on_start(trainer=None)
            assert torch.get_num_threads() == 3
            monkeypatch.setattr(threads, "idle_cpus", lambda own_threads=1: 2)
            auto.on_epoch(None, {}, 0)
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(before)
        with pytest.raises(ConfigurationError):
            TorchThreadsCallback(str(self.TEST_DIR), num_threads="lots")
