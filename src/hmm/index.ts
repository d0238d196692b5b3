/** The HMM API generations: seed/ (Linux v5.3, the one the drivers use today) and modern/ (to come). */

export * from './seed/index.js';
