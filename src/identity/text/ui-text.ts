/** UI texts with Kratos v0.6.3's message ids (text/*.go; ids come from iota, so they differ from v1). */
export interface UiText {
  id: number;
  text: string;
  type: 'info' | 'error';
  context?: Record<string, unknown>;
}

const info = (id: number, text: string, context?: Record<string, unknown>): UiText => ({
  id,
  text,
  type: 'info',
  ...(context ? { context } : {}),
});
const error = (id: number, text: string, context?: Record<string, unknown>): UiText => ({
  id,
  text,
  type: 'error',
  context: context ?? {},
});

export const labels = {
  signIn: () => info(1010001, 'Sign in'),
  signUp: () => info(1040001, 'Sign up'),
  password: () => info(1070001, 'Password'),
  generated: (title: string) => info(1070002, title),
  save: () => info(1070003, 'Save'),
  id: () => info(1070004, 'ID'),
  submit: () => info(1070005, 'Submit'),
};

export const texts = {
  settingsSaved: () => info(1050001, 'Your changes have been saved!'),
  recoverySuccessful: (minutes: number, privilegedUntil: string) =>
    info(
      1060001,
      `You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next ${minutes.toFixed(2)} minutes.`,
      { privileged_session_expires_at: privilegedUntil },
    ),
  recoveryEmailSent: () => info(1060002, 'An email containing a recovery link has been sent to the email address you provided.'),
  // v0.6 really uses 1070001 here: the id collides with the "Password" label.
  verificationEmailSent: () => info(1070001, 'An email containing a verification link has been sent to the email address you provided.'),

  validation: (reason: string) => error(4000001, reason),
  missingProperty: (property: string) => error(4000002, `Property ${property} is missing.`, { property }),
  minLength: (reason: string) => error(4000003, reason),
  invalidFormat: (reason: string) => error(4000004, reason),
  passwordPolicy: (reason: string) => error(4000005, `The password can not be used because ${reason}.`, { reason }),
  invalidCredentials: () =>
    error(
      4000006,
      'The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.',
    ),
  duplicateIdentifier: () => error(4000007, 'An account with the same identifier (email, phone, username, ...) exists already.'),
  noIdentifier: () =>
    error(
      4000009,
      'Could not find any login identifiers. Did you forget to set them? This could also be caused by a server misconfiguration.',
    ),

  loginExpired: (minutesAgo: number, expiredAt: string) =>
    error(4010001, `The login flow expired ${minutesAgo.toFixed(2)} minutes ago, please try again.`, { expired_at: expiredAt }),
  noLoginStrategy: () => error(4010002, 'Could not find a strategy to log you in with. Did you fill out the form correctly?'),
  noRegistrationStrategy: () => error(4010003, 'Could not find a strategy to sign you up with. Did you fill out the form correctly?'),
  noSettingsStrategy: () => error(4010004, 'Could not find a strategy to update your settings. Did you fill out the form correctly?'),
  noRecoveryStrategy: () => error(4010005, 'Could not find a strategy to recover your account with. Did you fill out the form correctly?'),
  noVerificationStrategy: () =>
    error(4010006, 'Could not find a strategy to verify your account with. Did you fill out the form correctly?'),
  registrationExpired: (minutesAgo: number, expiredAt: string) =>
    error(4040001, `The registration flow expired ${minutesAgo.toFixed(2)} minutes ago, please try again.`, { expired_at: expiredAt }),
  settingsExpired: (minutesAgo: number, expiredAt: string) =>
    error(4050001, `The settings flow expired ${minutesAgo.toFixed(2)} minutes ago, please try again.`, { expired_at: expiredAt }),
  recoveryRetrySuccess: () => error(4060001, 'The request was already completed successfully and can not be retried.'),
  recoveryTokenInvalid: () => error(4060004, 'The recovery token is invalid or has already been used. Please retry the flow.'),
  recoveryExpired: (minutesAgo: number, expiredAt: string) =>
    error(4060005, `The recovery flow expired ${minutesAgo.toFixed(2)} minutes ago, please try again.`, { expired_at: expiredAt }),
  verificationTokenInvalid: () => error(4070001, 'The verification token is invalid or has already been used. Please retry the flow.'),
  verificationRetrySuccess: () => error(4070002, 'The request was already completed successfully and can not be retried.'),
  verificationExpired: (minutesAgo: number, expiredAt: string) =>
    error(4070005, `The verification flow expired ${minutesAgo.toFixed(2)} minutes ago, please try again.`, { expired_at: expiredAt }),
  // Not a Kratos message (v0.6 does not throttle): 429 + a sequence number, outside Kratos's id ranges.
  loginThrottled: (retryAfterSeconds: number) =>
    error(4290001, `Too many failed login attempts. Please wait ${retryAfterSeconds} seconds before trying again.`, {
      retry_after_seconds: retryAfterSeconds,
    }),
  emailThrottled: (retryAfterSeconds: number) =>
    error(4290002, `Too many emails were requested. Please wait ${retryAfterSeconds} seconds before trying again.`, {
      retry_after_seconds: retryAfterSeconds,
    }),
  apiFlowHeader: (header: 'Cookie' | 'Origin') =>
    error(
      4000001,
      `The HTTP Request Header included the "${header}" key, indicating that this request was made by a Browser. The flow however was initiated as an API request. To prevent potential CSRF attacks the flow has been blocked.`,
    ),
};
