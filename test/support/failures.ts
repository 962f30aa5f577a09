import { AppError } from '../../lambdas/errors.js';

/** The AppError a promise rejects with; anything else (or no failure at all) fails the test. */
export const failureOf = async (promise: Promise<unknown>): Promise<AppError> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError');
};
