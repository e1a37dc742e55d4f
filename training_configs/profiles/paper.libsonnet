// The paper's setting: base.libsonnet's `paper` hyper-parameters unchanged (300-d char
// embeddings and BiLSTMs, 200 epochs, patience 25).
{}
