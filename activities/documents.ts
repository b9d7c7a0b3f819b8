/** What the document activities need: issue a document of a case event, once. */
export interface DocumentService {
  /**
   * Issues the document of a case event, or returns the one already issued for the same
   * (event, kind): asking twice never makes a second number.
   */
  issue(req: IssueRequest): Promise<IssuedDocument>;
}

/** Which document to issue, for which case and event. */
export interface IssueRequest {
  caseNumber: string;
  kind: DocumentKind;
  eventKey: string;
  /**
   * What the event itself says that the register's case row does not: the extension, the
   * suspension or the urging (see RegisterDocumentService for each kind's fields).
   */
  details?: Record<string, unknown>;
}

/** The documents the hall issues, to applicants and (the urging notice) to departments. */
export type DocumentKind =
  | 'receipt'
  | 'correctionNotice'
  | 'refusalNotice'
  | 'denialDecision'
  | 'approvalNotice'
  | 'extensionNotice'
  | 'suspensionNotice'
  | 'urgingNotice'
  | 'paymentNotice';

/** A document as issued: its number and where to fetch it. */
export interface IssuedDocument {
  id: string;
  documentNumber: string;
  kind: DocumentKind;
  issuedAt: string;
}

/** Activities that issue the case's documents. */
export function createDocumentActivities(documents: DocumentService) {
  return {
    /** Issues (or finds again) the document of one case event. */
    async issueDocument(req: IssueRequest): Promise<IssuedDocument> {
      return documents.issue(req);
    },
  };
}
