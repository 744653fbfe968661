package io.senseflow.noise;

/**
 * The 32-bit Mersenne Twister (Matsumoto and Nishimura, 1998) as PyTorch's CPU generator runs it: seeded with the
 * low 32 bits of the seed through the reference initialisation ({@code 1812433253} recurrence), 624 words of state
 * regenerated in one pass when used up, and the reference tempering.
 *
 * <p>Not thread-safe (it is a state machine); owned by one {@link TorchGenerator}.
 */
final class Mt19937 {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER = 0x80000000;
    private static final int LOWER = 0x7fffffff;

    private final int[] state = new int[N];
    private int index;

    Mt19937(long seed) {
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) {
            int prev = state[j - 1];
            state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
        }
        index = N;
    }

    /** @return the next 32 random bits (an unsigned value in Java's int) */
    int next() {
        if (index >= N) {
            regenerate();
        }
        int y = state[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    private void regenerate() {
        for (int k = 0; k < N; k++) {
            int y = (state[k] & UPPER) | (state[(k + 1) % N] & LOWER);
            state[k] = state[(k + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        index = 0;
    }
}
