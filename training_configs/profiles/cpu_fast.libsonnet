// A CPU profile: en -> es on the full English CoNLL-2003 training set in well under an hour on
// 2 cores. Smaller character and word BiLSTMs, batches of 32 and early stopping on the target
// dev set; everything else (SGD, momentum, clipping, decay, dropout, init) as in the paper.
// Its F1 cost against the paper dimensions is in benchmarks/README.md.
{
  char_embedding_dim: 25,
  char_hidden_size: 25,
  word_hidden_size: 100,
  batch_size: 32,
  // en -> es with these 10 epochs: 5 min in all, 26 s an epoch with validation, on a busy
  // 2-core machine (benchmarks/train_en_es.py).
  num_epochs: 10,
  patience: 3,
}
