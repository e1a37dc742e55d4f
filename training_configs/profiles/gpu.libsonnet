// A GPU profile: the paper's dimensions and schedule (base.libsonnet's `paper`: 300-d char
// embeddings and BiLSTMs, batches of 10, 200 epochs, patience 25) on GPU 0 with mixed precision
// (allennlp's `use_amp`: float16 autocast and a gradient scaler). XNER_CUDA_DEVICE picks another
// GPU; with XNER_DISTRIBUTED (e.g. "0,1") each worker gets its own GPU instead.
{
  cuda_device: 0,
  use_amp: true,
}
