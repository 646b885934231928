/* nn_photo — feeding photos to a detector and naming its classes: an 8-bit image resized to the
 * network's input, and the COCO-80 class names of mbv3-coco's outputs. */
#include <stddef.h>

#include "nn.h"

void nn_resize_u8_to_float(const uint8_t *src, int sw, int sh, int ch, float *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * (float)sh / (float)dh - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float ty = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * (float)sw / (float)dw - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float tx = fx - (float)x0;
            for (int c = 0; c < ch; c++) {
                float a = src[((size_t)y0 * sw + x0) * ch + c], b2 = src[((size_t)y0 * sw + x1) * ch + c];
                float c2 = src[((size_t)y1 * sw + x0) * ch + c], d = src[((size_t)y1 * sw + x1) * ch + c];
                float top = a + (b2 - a) * tx, bot = c2 + (d - c2) * tx;
                dst[((size_t)y * dw + x) * ch + c] = top + (bot - top) * ty;
            }
        }
    }
}

static const char *const coco80[80] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush"};

const char *nn_coco80_name(int i) { return i >= 0 && i < 80 ? coco80[i] : NULL; }
