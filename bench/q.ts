import { benchQuality } from './quality.js';
await benchQuality();
