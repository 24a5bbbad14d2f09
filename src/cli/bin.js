#!/usr/bin/env node
// The `phaseline` bin: Phaseline ships TypeScript sources and runs them through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
