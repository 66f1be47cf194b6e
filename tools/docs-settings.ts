// `npm run docs:settings`: rewrites README.md's configuration table and .env.example from the settings table
// (src/config/settings.ts). Run it after adding or changing a setting.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { envExample, withReadmeTable } from './settings-docs';

const root = path.resolve(__dirname, '..');
const readme = path.join(root, 'README.md');
writeFileSync(readme, withReadmeTable(readFileSync(readme, 'utf8')));
writeFileSync(path.join(root, '.env.example'), envExample());
console.log('README.md (configuration table) and .env.example written from src/config/settings.ts');
