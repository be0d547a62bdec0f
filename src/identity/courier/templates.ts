/** The four courier emails, worded in our own text with Kratos's subjects. */
export type TemplateType = 'recovery_valid' | 'recovery_invalid' | 'verification_valid' | 'verification_invalid';

export interface RenderedEmail {
  subject: string;
  body: string;
}

export function renderEmail(type: TemplateType, model: { to: string; link?: string }): RenderedEmail {
  switch (type) {
    case 'recovery_valid':
      return {
        subject: 'Recover access to your account',
        body: `Hi,\n\nsomeone asked to recover access to the account of ${model.to}. If that was you, open this link:\n\n${model.link ?? ''}\n\nIf it was not you, ignore this email.`,
      };
    case 'recovery_invalid':
      return {
        subject: 'Account access attempted',
        body: `Hi,\n\nsomeone tried to recover access to an account with this address (${model.to}), but no account uses it.\n\nIf that was you, try another address you may have signed up with; otherwise ignore this email.`,
      };
    case 'verification_valid':
      return {
        subject: 'Please verify your email address',
        body: `Hi, please verify your account by opening this link:\n\n${model.link ?? ''}`,
      };
    case 'verification_invalid':
      return {
        subject: 'Someone tried to verify this email address',
        body: `Hi,\n\nsomeone asked to verify this address (${model.to}), but no account uses it.\n\nIf that was you, check that you signed up with this address; otherwise ignore this email.`,
      };
  }
}
