// Placeholder while the sandbox lands (replaced in this session).
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
export const sandboxCommand: CommandModule = {
  command: 'sandbox',
  describe: 'practice cluster on this machine',
  handler: () => {
    throw new UsageError('the sandbox is not built yet');
  },
};
