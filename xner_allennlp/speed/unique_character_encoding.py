import torch
from allennlp.modules.seq2vec_encoders import PytorchSeq2VecWrapper, Seq2VecEncoder
from allennlp.modules.time_distributed import TimeDistributed
from allennlp.modules.token_embedders import Embedding, TokenEmbedder

from xner_allennlp.speed.packed_recurrence import (
    final_states,
    lstm_directions,
    packed_layout,
    recurrence,
    supports_fast_path,
)


@TokenEmbedder.register("unique_character_encoding")
class UniqueCharacterEncoder(TokenEmbedder):
    """
    allennlp's `character_encoding` (`TokenCharactersEncoder`: character embedding, a
    `Seq2VecEncoder` over each word's characters, optional dropout), computed faster. Same
    constructor, same parameters under the same names (a model's weights load into either), and
    the same output up to float rounding.

    * Each distinct word of the batch is encoded once and its vector copied to every occurrence
      (gradients are summed over the occurrences, as they are when each is encoded separately);
      padding words get zeros, as in `character_encoding`.
    * With a one-layer `lstm` encoder (the paper's char BiLSTM) on CPU, the LSTM runs through
      `xner_allennlp.speed.packed_recurrence`: the input projection is computed once per distinct
      character of the batch (`embedding(c) @ W_ih`) instead of once per character position,
      and only the recurrent products are left in the time loop. Other encoders (cnn, several
      layers...), and any encoder on a GPU, are called on the distinct words as they are.

    Registered as a `TokenEmbedder` with name "unique_character_encoding".

    # Parameters

    embedding : `Embedding`
        Character embedding.
    encoder : `Seq2VecEncoder`
        Word encoder over the characters.
    dropout : `float`, optional (default = `0.0`)
        Dropout on the word encodings.
    """

    def __init__(self, embedding: Embedding, encoder: Seq2VecEncoder, dropout: float = 0.0) -> None:
        super().__init__()
        # Wrapped as in TokenCharactersEncoder, so that the state-dict keys are the same.
        self._embedding = TimeDistributed(embedding)
        self._encoder = TimeDistributed(encoder)
        self._dropout = torch.nn.Dropout(p=dropout) if dropout > 0 else (lambda x: x)

    def get_output_dim(self) -> int:
        return self._encoder._module.get_output_dim()

    def _lstm(self, token_characters: torch.Tensor):
        encoder = self._encoder._module
        embedding = self._embedding._module
        if (
            isinstance(encoder, PytorchSeq2VecWrapper)
            and not encoder.stateful
            and supports_fast_path(encoder._module, token_characters)
            and not getattr(embedding, "scale_grad_by_freq", False)
        ):
            return encoder._module
        return None

    def forward(self, token_characters: torch.Tensor) -> torch.Tensor:
        batch_size, num_tokens, num_characters = token_characters.shape
        words = token_characters.reshape(-1, num_characters)
        unique_words, inverse = torch.unique(words, dim=0, return_inverse=True)
        lengths = (unique_words != 0).sum(1)
        lstm = self._lstm(token_characters)
        if lstm is not None:
            encoded = self._encode_lstm(lstm, unique_words, lengths)
        else:
            encoded = self._encode_generic(unique_words, lengths)
        output = encoded.index_select(0, inverse).view(batch_size, num_tokens, -1)
        return self._dropout(output)

    def _encode_generic(self, unique_words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        nonempty = (lengths > 0).nonzero().squeeze(1)
        width = max(int(lengths.max()), 1) if len(lengths) else 1
        kept = unique_words.index_select(0, nonempty)[:, :width]
        if len(kept) == 0:
            kept = unique_words[:1, :width]  # only padding: encode one word for the shapes
        vectors = self._encoder._module(self._embedding._module(kept), kept != 0)
        encoded = vectors.new_zeros(len(unique_words), vectors.size(-1))
        if len(nonempty):
            encoded = encoded.index_copy(0, nonempty, vectors)
        return encoded

    def _encode_lstm(self, lstm, unique_words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        layout = packed_layout(lengths)
        if not layout.batch_sizes:
            weight = lstm.weight_hh_l0
            return weight.new_zeros(len(unique_words), self.get_output_dim())
        width = unique_words.size(1)
        flat = unique_words.reshape(-1)
        positions = [layout.forward_position, layout.backward_position][: 2 if lstm.bidirectional else 1]
        char_ids = torch.stack([flat[layout.sequence * width + p] for p in positions])  # (K, T)
        # The input projection is linear in the embedding: project each distinct character once.
        unique_chars, char_rows = torch.unique(char_ids, return_inverse=True)
        table = self._embedding._module(unique_chars)  # (C, D)
        directions = lstm_directions(lstm)
        gates_x = torch.stack(
            [
                torch.addmm(bias, table, w_ih.t()).index_select(0, char_rows[k])
                for k, (w_ih, _, bias) in enumerate(directions)
            ]
        )  # (K, T, 4H)
        w_hh = torch.stack([w for _, w, _ in directions])
        hidden = recurrence(gates_x, w_hh, layout.batch_sizes)
        return final_states(hidden, layout)
