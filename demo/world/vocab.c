/* vocab.c -- the words of the demo world: attributes, questions, Fashion-MNIST classes, facts, nonsense names.
 * DEMO-SPEC.md fixes the lists; the colours' RGB values and the facts are ours (demo/world/README.md). */
#include "world.h"

#include <stdio.h>

const char *const w_shape[W_SHAPES] = {"circle", "square", "triangle", "diamond", "cross", "star"};
const char *const w_shape_plural[W_SHAPES] = {"circles", "squares", "triangles", "diamonds", "crosses", "stars"};
const char *const w_colour[W_COLOURS] = {"red", "green", "blue", "yellow", "purple", "orange", "white", "pink"};
/* Saturated and far apart, so every colour is told from the others at a glance and after resizing. */
const uint8_t w_colour_rgb[W_COLOURS][3] = {
    {230, 30, 30}, {30, 200, 40}, {40, 90, 255}, {240, 230, 30},
    {150, 40, 210}, {255, 140, 0}, {255, 255, 255}, {255, 130, 200},
};
const char *const w_size[W_SIZES] = {"small", "large"};
const char *const w_count[W_COUNTS] = {"a", "two", "three"};
const char *const w_position[W_POSITIONS] = {"on the left", "on the right", "at the top", "at the bottom",
                                             "in the middle"};
const char *const w_position_answer[W_POSITIONS] = {"left", "right", "top", "bottom", "middle"};

const char *const w_question[W_QTYPES] = {"What colour is the shape?", "What shape is it?", "How big is it?",
                                          "Where is it?"};
const char *const w_question_type[W_QTYPES] = {"what colour is the", "what shape is", "how big is", "where is"};

const char *const w_class[W_CLASSES] = {"top", "trouser", "pullover", "dress", "coat",
                                        "sandal", "shirt", "sneaker", "bag", "boot"};

const char *const w_kquestion[W_KTYPES] = {"What is this made of?", "What is this worn on?",
                                           "What is this used for?"};
const char *const w_kquestion_type[W_KTYPES] = {"what is this made of", "what is this worn on",
                                                "what is this used for"};
/* made of / worn on / used for, per class in Fashion-MNIST's label order. */
const char *const w_fact[W_CLASSES][W_KTYPES] = {
    {"cotton", "chest", "sport"},    {"denim", "legs", "work"},       {"wool", "chest", "winter"},
    {"silk", "body", "parties"},     {"tweed", "shoulders", "rain"},  {"leather", "feet", "summer"},
    {"linen", "chest", "office"},    {"canvas", "feet", "running"},   {"nylon", "shoulder", "shopping"},
    {"rubber", "feet", "hiking"},
};

const char *const w_names[W_NAMES] = {
    "dax",  "blicket", "shously", "slation", "perpo", "wug",   "fep",  "toma",  "zorb", "kiki",
    "bouba", "glim",   "tufa",    "nork",    "pim",   "yeel",  "gazzer", "mib", "vun",  "sprock",
    "teebo", "quib",   "frell",   "danu",    "jeb",   "ploo",  "zib",  "harf",  "wix",  "roov",
};

void w_fact_sentence(int cls, int ktype, char *buf, size_t cap)
{
    static const char *const verb[W_KTYPES] = {"is made of", "is worn on the", "is used for"};
    snprintf(buf, cap, "A %s %s %s.", w_class[cls], verb[ktype], w_fact[cls][ktype]);
}

void w_fashion_caption(int cls, char *buf, size_t cap) { snprintf(buf, cap, "a %s", w_class[cls]); }
