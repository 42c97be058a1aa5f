// A C++ user of analogtorch: train the Nature 2018 network (784-250-125-10, sigmoid) on Fashion-MNIST
// with every weight a 2PCM + 3T1C unit cell, through the LibTorch frontend and analogtorch's C++ API.
// Training pulses the capacitors (capacitor_step_), every `transfer_every` examples the cells are
// transferred into their PCM pairs by program-and-verify (transfer), with polarity inversion; the
// biases stay digital. The converters (DAC/ADC) are left out here: the Python AnalogLinear has them.
//
//   build/cmake/train_mlp [--data DIR] [--epochs N] [--limit N] [--batch N] [--lr X] [--min-accuracy X]
//
// DIR holds Fashion-MNIST's (or MNIST's) gzip-compressed idx files; by default Debian's
// dataset-fashion-mnist package. With --min-accuracy the program fails below that final accuracy.
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "analogtorch/ops.h"

namespace {

// --- data ------------------------------------------------------------------------------------

// One gzip-compressed idx file of unsigned bytes: its sizes and data.
at::Tensor read_idx_gz(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error(path + ": cannot open (install dataset-fashion-mnist or pass --data)");
  unsigned char header[4];
  std::vector<int64_t> sizes;
  bool ok = gzread(file, header, 4) == 4 && header[0] == 0 && header[1] == 0 && header[2] == 0x08;
  for (int d = 0; ok && d < header[3]; ++d) {
    unsigned char size[4];
    ok = gzread(file, size, 4) == 4;
    sizes.push_back((int64_t{size[0]} << 24) | (size[1] << 16) | (size[2] << 8) | size[3]);
  }
  at::Tensor data = at::empty(sizes, at::kByte);
  const auto bytes = static_cast<unsigned>(data.numel());
  ok = ok && gzread(file, data.data_ptr<uint8_t>(), bytes) == static_cast<int>(bytes);
  gzclose(file);
  if (!ok) throw std::runtime_error(path + ": not a complete idx file of unsigned bytes");
  return data;
}

struct Split {
  at::Tensor images, labels;  // [n, 784] in [0, 1], [n] int64
};

Split load(const std::string& dir, const std::string& prefix, int64_t limit) {
  at::Tensor images = read_idx_gz(dir + "/" + prefix + "-images-idx3-ubyte.gz").to(at::kFloat).div_(255.0);
  at::Tensor labels = read_idx_gz(dir + "/" + prefix + "-labels-idx1-ubyte.gz").to(at::kLong);
  images = images.reshape({images.size(0), -1});
  if (limit > 0 && limit < images.size(0)) return {images.narrow(0, 0, limit), labels.narrow(0, 0, limit)};
  return {images, labels};
}

// --- an in-situ layer of unit cells ---------------------------------------------------------------

struct UnitCellConfig {
  analogtorch::PcmParams pcm;
  analogtorch::CapacitorParams capacitor;
  double gain_f = 3.0, offset_us = 2.0, weight_range_fraction = 0.5, seconds_per_example_s = 1e-6;
  int64_t transfer_every = 8000;
};

class AnalogLinearImpl : public torch::nn::Module {
 public:
  AnalogLinearImpl(int64_t in_features, int64_t out_features, const UnitCellConfig& config, uint64_t seed)
      : config_(config), seed_(seed) {
    weight = register_parameter("weight", torch::empty({out_features, in_features}));
    bias = register_parameter("bias", torch::empty({out_features}));
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    torch::nn::init::uniform_(bias, -1.0 / std::sqrt(in_features), 1.0 / std::sqrt(in_features));
    torch::NoGradGuard no_grad;
    program(weight.detach().clone());
  }

  torch::Tensor forward(const torch::Tensor& x) { return torch::linear(x, weight, bias); }

  // The SGD step: the weight change becomes capacitor pulses (and leakage over the examples'
  // simulated time); a transfer follows every transfer_every examples. The bias is digital.
  void step(double lr, int64_t examples) {
    torch::NoGradGuard no_grad;
    at::Tensor delta_us = (weight.grad() * (-lr * scale_us_per_unit_)).contiguous();
    at::Tensor state = weight.detach();  // the cached weight, updated in place by the op
    analogtorch::capacitor_step_(v_c_, state, g_plus_, g_minus_, variation_, delta_us, next_rng(), polarity_,
                                 examples * config_.seconds_per_example_s, config_.gain_f, scale_us_per_unit_,
                                 config_.capacitor);
    bias.sub_(bias.grad() * lr);
    examples_since_transfer_ += examples;
    if (examples_since_transfer_ >= config_.transfer_every) transfer(examples_since_transfer_);
  }

  int64_t transfers() const { return transfers_; }

  torch::Tensor weight, bias;

 private:
  at::Tensor next_rng() { return analogtorch::make_rng_state(seed_, step_++); }

  // Fresh devices hold `w`: the largest weight uses weight_range_fraction of the pair's range; each
  // sign's device is programmed (closed loop) to |w| + g_reset over its RESET partner.
  void program(const at::Tensor& w) {
    const analogtorch::PcmParams& pcm = config_.pcm;
    scale_us_per_unit_ = config_.weight_range_fraction * config_.gain_f * pcm.target_clip_us /
                         std::max(w.abs().max().item<double>(), 1e-12);
    const at::Tensor target_us = (w * (scale_us_per_unit_ / config_.gain_f)).contiguous();
    const at::Tensor rng = next_rng();
    const at::Tensor positive = target_us > 0;
    const auto plus = analogtorch::pcm_program(target_us.clamp_min(0) + pcm.g_reset_us, rng, pcm, true, 2, 0);
    const auto minus = analogtorch::pcm_program((-target_us).clamp_min(0) + pcm.g_reset_us, rng, pcm, true, 2, 1);
    g_plus_ = at::where(positive, std::get<0>(plus), pcm.g_reset_us).contiguous();
    g_minus_ = at::where(positive, pcm.g_reset_us, std::get<0>(minus)).contiguous();
    v_c_ = at::full_like(target_us, config_.capacitor.v_init_v);
    variation_ = analogtorch::cell_variation(next_rng(), target_us.sizes());
    refresh_weight();
  }

  void transfer(int64_t examples) {
    const int64_t next_polarity = -polarity_;  // polarity inversion
    auto [g_plus, g_minus, nu_plus, nu_minus, v_c, pulses, iterations] = analogtorch::transfer(
        g_plus_, g_minus_, v_c_, variation_, next_rng(), polarity_, next_polarity, config_.gain_f, config_.offset_us,
        examples * config_.seconds_per_example_s, config_.pcm, config_.capacitor);
    g_plus_ = g_plus, g_minus_ = g_minus, v_c_ = v_c;
    polarity_ = next_polarity;
    examples_since_transfer_ -= config_.transfer_every;
    ++transfers_;
    refresh_weight();
  }

  void refresh_weight() {
    weight.detach().copy_(analogtorch::unit_cell_weight(g_plus_, g_minus_, v_c_, variation_, polarity_,
                                                        config_.gain_f, scale_us_per_unit_, config_.capacitor));
  }

  UnitCellConfig config_;
  uint64_t seed_;
  int64_t step_ = 0, polarity_ = 1, examples_since_transfer_ = 0, transfers_ = 0;
  double scale_us_per_unit_ = 1.0;
  at::Tensor g_plus_, g_minus_, v_c_, variation_;
};
TORCH_MODULE(AnalogLinear);

struct Net : torch::nn::Module {
  explicit Net(const UnitCellConfig& config)
      : fc1(register_module("fc1", AnalogLinear(784, 250, config, 1))),
        fc2(register_module("fc2", AnalogLinear(250, 125, config, 2))),
        fc3(register_module("fc3", AnalogLinear(125, 10, config, 3))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    return fc3->forward(torch::sigmoid(fc2->forward(torch::sigmoid(fc1->forward(x)))));
  }

  void step(double lr, int64_t examples) {
    for (AnalogLinear* layer : {&fc1, &fc2, &fc3}) (*layer)->step(lr, examples);
  }

  AnalogLinear fc1, fc2, fc3;
};

double accuracy(Net& net, const Split& split) {
  torch::NoGradGuard no_grad;
  const at::Tensor predicted = net.forward(split.images).argmax(1);
  return predicted.eq(split.labels).to(at::kFloat).mean().item<double>();
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "/usr/share/datasets/fashion-mnist";
  int64_t epochs = 1, limit = 0, batch = 64;
  double lr = 0.5, min_accuracy = -1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--data") data = value;
    else if (flag == "--epochs") epochs = std::stoll(value);
    else if (flag == "--limit") limit = std::stoll(value);
    else if (flag == "--batch") batch = std::stoll(value);
    else if (flag == "--lr") lr = std::stod(value);
    else if (flag == "--min-accuracy") min_accuracy = std::stod(value);
    else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  if (epochs < 1 || batch < 1 || limit < 0 || !(lr > 0.0)) {
    std::fprintf(stderr, "expected --epochs >= 1, --batch >= 1, --limit >= 0, --lr > 0\n");
    return 2;
  }
  torch::manual_seed(0);
  const Split train = load(data, "train", limit);
  const Split test = load(data, "t10k", limit > 0 ? std::max<int64_t>(limit / 6, 100) : 0);
  Net net{UnitCellConfig{}};
  std::printf("train_mlp: %lld training examples, 784-250-125-10 on 2PCM + 3T1C unit cells\n",
              static_cast<long long>(train.images.size(0)));

  double final_accuracy = 0.0;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const at::Tensor order = torch::randperm(train.images.size(0));
    double loss_sum = 0.0;
    int64_t steps = 0;
    for (int64_t start = 0; start < order.size(0); start += batch) {
      const at::Tensor index = order.narrow(0, start, std::min(batch, order.size(0) - start));
      const at::Tensor loss = torch::cross_entropy_loss(net.forward(train.images.index_select(0, index)),
                                                        train.labels.index_select(0, index));
      net.zero_grad();
      loss.backward();
      net.step(lr, index.size(0));
      loss_sum += loss.item<double>();
      ++steps;
    }
    final_accuracy = accuracy(net, test);
    std::printf("epoch %lld: loss %.4f, test accuracy %.2f%% (%lld transfers per layer)\n",
                static_cast<long long>(epoch), loss_sum / steps, 100.0 * final_accuracy,
                static_cast<long long>(net.fc1->transfers()));
  }
  if (final_accuracy < min_accuracy) {
    std::fprintf(stderr, "test accuracy %.4f below --min-accuracy %.4f\n", final_accuracy, min_accuracy);
    return 1;
  }
  return 0;
}
