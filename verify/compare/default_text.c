/* The built-in evaluation text (see default_text.h). */
#include "verify/compare/default_text.h"

const char wk_default_eval_text[] =
    "Once upon a time, there was a little boy named Sam. Sam lived in a small house near a "
    "big green hill. Every morning he ran up the hill to see the sun come up over the trees. "
    "One day, Sam saw a tiny bird sitting on a rock. The bird could not fly. Its wing was "
    "hurt. Sam felt sad for the bird. He picked it up very gently and carried it home.\n"
    "Sam's mom looked at the bird and smiled. \"We can help it,\" she said. \"It needs food, "
    "water and a warm place to rest.\" Sam found a small box and put a soft towel inside. He "
    "gave the bird some seeds and a little cup of water. The bird ate the seeds and went to "
    "sleep.\n"
    "Every day Sam took care of the bird. He talked to it and sang it songs. After many days, "
    "the bird began to move its wing again. It hopped around the box and chirped loudly. Sam "
    "laughed. \"You are getting better!\" he said.\n"
    "One sunny morning, Sam took the box outside. The bird looked at the sky. Then it spread "
    "its wings and flew up into the air. It flew around Sam three times and sang a happy "
    "song. Then it flew away over the hill. Sam waved goodbye. He was a little sad, but he "
    "was also very proud. He had helped his friend get better.\n"
    "The next spring, Sam heard a song outside his window. He looked out and saw the same "
    "bird sitting in the tree. It had built a nest, and there were three little eggs inside. "
    "Sam smiled. His friend had come back home.\n";
