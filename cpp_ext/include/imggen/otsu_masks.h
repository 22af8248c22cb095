// otsu_masks: Otsu foreground masks of 8-bit frames: luma, histogram, threshold, mask.
//
// The math and the entry points (conventions in imggen/pixel.h): the CPU loop
// (src/otsu_masks_cpu.cpp) and the CUDA kernels (src/otsu_masks_cuda.cu) call these functions.
// Luma and threshold follow OpenCV's definitions exactly: the 15-bit fixed-point BT.601 of
// cvtColor(COLOR_RGB2GRAY) for 8-bit images, and getThreshVal_Otsu's between-class variance in
// double over a 256-bin histogram, first maximum wins. Masks therefore equal
// cv2.threshold(gray, 0, 255, THRESH_BINARY | THRESH_OTSU) bit for bit wherever OpenCV runs
// that code. OpenCV builds with Intel IPP (the x86-64 opencv-python wheels) compute the
// threshold in IPP instead: the same threshold wherever the maximum is unique, but exact ties
// of the variance (e.g. three equally populated, equally spaced levels) may go to the later
// candidate there.
#pragma once

#include <cstdint>

#include "imggen/limits.h"
#include "imggen/pixel.h"

namespace imggen {

// One bin per 8-bit luma level.
constexpr int kHistBins = 256;

// BT.601 luma in 15-bit fixed point, rounded: OpenCV's RGB -> gray for 8-bit images
// (R2Y 9798, G2Y 19235, B2Y 3735; the weights sum to 2^15, so 255 maps to 255).
IMGGEN_HD std::uint8_t luma_u8(const std::uint8_t* px, int channels) {
    if (channels < 3) return px[0];
    const std::uint32_t y = px[0] * 9798u + px[1] * 19235u + px[2] * 3735u + 16384u;
    return static_cast<std::uint8_t>(y >> 15);
}

// The threshold t that maximises the between-class variance of the histogram (classes
// <= t and > t); 0 when the image has a single level.
IMGGEN_HD int otsu_threshold(const std::uint32_t* hist, std::int64_t total) {
    const double eps = 1.1920928955078125e-07;  // FLT_EPSILON, as OpenCV
    const double scale = 1.0 / static_cast<double>(total);
    double mu = 0.0;
    for (int i = 0; i < kHistBins; ++i) mu += i * static_cast<double>(hist[i]);
    mu *= scale;
    double mu1 = 0.0, q1 = 0.0, best = 0.0;
    int threshold = 0;
    for (int i = 0; i < kHistBins; ++i) {
        const double p = hist[i] * scale;
        mu1 *= q1;
        q1 += p;
        const double q2 = 1.0 - q1;
        const double lo = q1 < q2 ? q1 : q2, hi = q1 < q2 ? q2 : q1;
        if (lo < eps || hi > 1.0 - eps) continue;
        mu1 = (mu1 + i * p) / q1;
        const double mu2 = (mu - q1 * mu1) / q2;
        const double sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
        if (sigma > best) {
            best = sigma;
            threshold = i;
        }
    }
    return threshold;
}

// The mask value of one pixel: 255 above the threshold (below or equal for dark subjects).
IMGGEN_HD std::uint8_t otsu_mask_value(std::uint8_t luma, int threshold, bool dark) {
    const bool above = luma > threshold;
    return (above != dark) ? 255 : 0;
}

// masks[i] = Otsu foreground of frame i (n frames of `pixels` pixels with `channels` values).
void otsu_masks_cpu(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels, int channels,
                    bool dark, std::uint8_t* masks);
// The same on the device, n <= kMaxCudaOtsuFrames; hist is device scratch of n * kHistBins
// uint32 (zeroed here).
void otsu_masks_cuda(const std::uint8_t* frames, std::int64_t n, std::int64_t pixels, int channels,
                     bool dark, std::uint32_t* hist, std::uint8_t* masks, int device,
                     std::uintptr_t stream);

}  // namespace imggen
