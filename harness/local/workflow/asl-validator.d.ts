/** The part of asl-validator 4 (which ships no types) that the local engine uses. */
declare module "asl-validator" {
  interface ValidationOptions {
    checkPaths?: boolean;
    checkArn?: boolean;
  }
  interface ValidationResult {
    isValid: boolean;
    errors: unknown[];
    errorsText: (separator?: string) => string;
  }
  export default function aslValidator(
    definition: unknown,
    options?: ValidationOptions,
  ): ValidationResult;
}
